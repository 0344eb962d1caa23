"""`make demo`: the app, Azurite and the identity platform simulator, a dozen customers, one Verify All."""
