// The function app on Flex Consumption (FC1), Linux, Python 3.11. It runs as one user-assigned
// identity; storage, Key Vault and Application Insights are reached through that identity.

@description('Name of the Flex Consumption plan.')
param planName string

@description('Name of the function app.')
param name string

@description('Azure region.')
param location string

@description('Tags for the resources.')
param tags object

@description('azd service name in azure.yaml: azd deploys the code to the app tagged with it.')
param serviceName string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (app settings name it so the SDKs pick it).')
param identityClientId string

@description('Blob endpoint of the storage account, ending with a slash.')
param storageBlobEndpoint string

@description('Queue endpoint of the storage account.')
param storageQueueEndpoint string

@description('Table endpoint of the storage account.')
param storageTableEndpoint string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Key Vault URI (https://<vault>.vault.azure.net/).')
param keyVaultUri string

@description('Name of the Application Insights component the app sends telemetry to.')
param applicationInsightsName string

@description('Most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('ENTRA_AUTHORITY_HOST: the identity platform host.')
param entraAuthorityHost string

@description('GRAPH_ENDPOINT: Microsoft Graph.')
param graphEndpoint string

@description('VERIFY_SCHEDULE: NCRONTAB of the verification timer.')
param verifySchedule string

@description('VERIFY_CONCURRENCY: verifications in flight per worker.')
@minValue(1)
@maxValue(256)
param verifyConcurrency int

@description('REQUIRED_APPLICATION_ROLES: comma list of roles the application method must carry.')
param requiredApplicationRoles string

@description('CONSENT_SCOPES: delegated scopes asked at consent.')
param consentScopes string

@description('PROVIDER_TENANT_ID: the provider\'s own tenant, for foresight\'s Graph reads of its client secret and its delegated admin relationships; empty: those reads are off.')
@maxLength(253)
param providerTenantId string

@description('GDAP_CHECK: read the provider\'s delegated admin relationships for expiry warnings.')
@allowed([
  'true'
  'false'
])
param gdapCheck string

@description('OPERATORS_CLIENT_ID: client id of the operators\' app registration; empty: sign-in is off.')
@maxLength(36)
param operatorsClientId string

@description('OPERATORS_TENANT_ID: the only tenant whose people may sign in.')
param operatorsTenantId string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions (and wants zone-redundant storage); this template must deploy to any Flex region. The app keeps no state in memory and the timer catches up after an outage.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: the app must be public: Microsoft redirects customer admins' browsers to /authenticate/OAuth2Callback, and operators call /api/*, which function keys protect.
  // checkov:skip=CKV_AZURE_17: client certificates cannot apply: the consent callback is opened by customer admins' browsers, which hold none; /api/* is protected by function keys.
  // checkov:skip=CKV_AZURE_212: Flex Consumption has no fixed instance count: instances are created per demand up to maximumInstanceCount.
  // checkov:skip=CKV_AZURE_213: the platform health check is not supported on Flex Consumption; GET /api/health is there for an external probe.
  // checkov:skip=CKV_AZURE_78: Flex Consumption has no FTP(S) publishing (code comes only from the blob container of functionAppConfig.deployment), and ARM rejects siteConfig.ftpsState on FC1 (error 51021).
  // checkov:skip=CKV_AZURE_15: siteConfig is left as the Flex Consumption samples set it; the platform's minimum TLS version for new apps is 1.2, the version this check asks for.
  // checkov:skip=CKV_AZURE_18: http20Enabled is hidden for Flex Consumption apps: the platform's front end chooses the HTTP version, so the property is not set.
  // checkov:skip=CKV_AZURE_67: http20Enabled is hidden for Flex Consumption apps: the platform's front end chooses the HTTP version.
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    keyVaultReferenceIdentity: identityId
    // siteConfig holds only appSettings, as Microsoft's Flex Consumption samples set it: ARM rejects ftpsState
    // on FC1 (error 51021) and hides http20Enabled there; the TLS minimum is the platform's default (1.2).
    siteConfig: {
      // Every setting the app reads (shared/, functions/) is set here or has a default in code;
      // tests/infra/test_settings_drift.py keeps the two in step. Set with the site, so the host's
      // first start already has its storage.
      appSettings: [
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storageBlobEndpoint
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storageQueueEndpoint
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storageTableEndpoint
        }
        {
          // GET / is the Authentication Status page (functions/page.py), not the host's default home page.
          name: 'AzureWebJobsDisableHomepage'
          value: 'true'
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          // An ingestion address, not a credential: the component accepts only Entra ID tokens.
          value: applicationInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        {
          name: 'KEY_VAULT_URL'
          value: keyVaultUri
        }
        {
          name: 'ENTRA_AUTHORITY_HOST'
          value: entraAuthorityHost
        }
        {
          name: 'GRAPH_ENDPOINT'
          value: graphEndpoint
        }
        {
          name: 'VERIFY_SCHEDULE'
          value: verifySchedule
        }
        {
          name: 'VERIFY_CONCURRENCY'
          value: string(verifyConcurrency)
        }
        {
          name: 'REQUIRED_APPLICATION_ROLES'
          value: requiredApplicationRoles
        }
        {
          name: 'CONSENT_SCOPES'
          value: consentScopes
        }
        {
          name: 'PROVIDER_TENANT_ID'
          value: providerTenantId
        }
        {
          name: 'GDAP_CHECK'
          value: gdapCheck
        }
        {
          // Operators' sign-in (signin.bicep): the app requires a principal or a function key when this is set.
          name: 'OPERATORS_CLIENT_ID'
          value: operatorsClientId
        }
        {
          // The app accepts a principal of this tenant only, whatever the platform let through.
          name: 'OPERATORS_TENANT_ID'
          value: operatorsTenantId
        }
        {
          // App Service Authentication refuses (403) a token whose tid is not listed.
          name: 'WEBSITE_AUTH_AAD_ALLOWED_TENANTS'
          value: operatorsTenantId
        }
        {
          // App Service Authentication signs in with this identity's assertion instead of a client secret
          // (signin.bicep names this setting as clientSecretSettingName). Inert while sign-in is off.
          name: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
          value: identityClientId
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
