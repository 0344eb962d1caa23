// Operators' sign-in: App Service Authentication with the Microsoft Entra provider for the operators' app
// registration. Only when its client id is given; without one there is no authsettingsV2 resource at all,
// sign-in is off and function keys alone open /api/* (the app then ignores X-MS-CLIENT-PRINCIPAL).
//
// The platform signs people in and passes who they are to the app; it blocks nobody (AllowAnonymous). The app
// decides every request (shared/domain/access.py): /api/* without a principal or a function key answers 401 JSON
// and / redirects to /.auth/login/aad. Why the app and not the platform: authsettingsV2 has one action for
// the whole site (a redirect for /api/* would break scripts, a 401 for / would break the page), and requests
// carrying a function key must reach the Functions host; Flex Consumption has also had reports of
// authentication that looks enabled yet lets anonymous calls through.

@description('Name of the function app.')
param appName string

@description('Application (client) id of the operators\' app registration; empty: sign-in off, nothing deployed.')
@maxLength(36)
param operatorsClientId string

@description('The only tenant whose people may sign in: the provider\'s own, where the registration lives.')
param operatorsTenantId string

// Open to anyone without sign-in: Microsoft redirects customers' admins to the callback, and a probe reads health.
var excludedPaths = [
  '/authenticate/OAuth2Callback'
  '/api/health'
]

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(operatorsClientId)) {
  // checkov reads every Microsoft.Web/sites/config as the site's 'web' config or the V1 'authsettings'; this is
  // the V2 authentication resource, which holds none of what these checks look for:
  // checkov:skip=CKV_AZURE_13: checkov knows only the V1 shape (properties.enabled); V2 enables it at properties.platform.enabled, set here.
  // checkov:skip=CKV_AZURE_63: HTTP logging is a setting of the site's 'web' config, not of authsettingsV2; Flex Consumption sends logs to Application Insights.
  // checkov:skip=CKV_AZURE_65: detailed error messages are a setting of the site's 'web' config, not of authsettingsV2 (and they stay off).
  // checkov:skip=CKV_AZURE_66: failed request tracing is a setting of the site's 'web' config, not of authsettingsV2; Flex Consumption has no such tracing.
  // checkov:skip=CKV_AZURE_80: a .NET Framework version belongs to the site's 'web' config; this app is Python and this resource is authsettingsV2.
  // checkov:skip=CKV_AZURE_88: Azure Files mounts belong to the site's 'web' config; authsettingsV2 has none, and its token store is off.
  // checkov:skip=CKV_AZURE_222: public network access is a property of the site (skipped there with its reason), not of authsettingsV2.
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
      excludedPaths: excludedPaths
    }
    httpSettings: {
      requireHttps: true
      routes: {
        apiPrefix: '/.auth'
      }
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: operatorsClientId
          // No client secret: this app setting (functionapp.bicep) names the app's managed identity, which the
          // registration trusts through a federated credential; the platform signs in with its assertion.
          clientSecretSettingName: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
          // One tenant's v2.0 issuer (not common/organizations): tokens of any other tenant fail validation.
          openIdIssuer: '${environment().authentication.loginEndpoint}${operatorsTenantId}/v2.0'
        }
        validation: {
          // ID tokens of the sign-in carry the client id; tokens a script claims for the API carry api://<id>.
          allowedAudiences: [
            operatorsClientId
            'api://${operatorsClientId}'
          ]
        }
        login: {
          disableWWWAuthenticate: false
        }
      }
    }
    login: {
      // The app needs who signed in, not tokens to call other APIs on their behalf: none are kept (a blob store
      // would also need a SAS URL, a secret). Without a store /.auth/me does not answer.
      tokenStore: {
        enabled: false
      }
      preserveUrlFragmentsForLogins: false
      cookieExpiration: {
        convention: 'FixedTime'
        timeToExpiration: '08:00:00'
      }
      nonce: {
        validateNonce: true
        nonceExpirationInterval: '00:05:00'
      }
    }
  }
}
