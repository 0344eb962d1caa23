"""GDAP_CHECK and PROVIDER_TENANT_ID: read strictly at start, so a typo fails loudly instead of turning checks off."""
import pytest

from shared.config import load_config
from shared.domain.errors import ConfigurationError

BASE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def test_off_and_unset_by_default():
    config = load_config(BASE)
    assert (config.gdap_check, config.provider_tenant_id) == (False, None)


def test_read_when_given():
    config = load_config({**BASE, "GDAP_CHECK": " True ", "PROVIDER_TENANT_ID": "Partner.onmicrosoft.com"})
    assert (config.gdap_check, config.provider_tenant_id) == (True, "partner.onmicrosoft.com")


@pytest.mark.parametrize("env", [{"GDAP_CHECK": "yes"}, {"GDAP_CHECK": "1"}, {"PROVIDER_TENANT_ID": "not a tenant"},
                                 {"PROVIDER_TENANT_ID": "k\u212aelvin.onmicrosoft.com"}])
def test_a_value_that_means_nothing_fails_the_start(env):
    with pytest.raises(ConfigurationError):
        load_config({**BASE, **env})
