// Every secret of the product (tenant passwords, refresh tokens, client secrets) lives here.
// Access is Azure RBAC only (no access policies); deleted secrets and the vault itself are
// recoverable (soft delete) and cannot be purged early (purge protection).

@description('Name of the vault (3-24 characters).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object

@description('Whether the vault answers on its public endpoint. The Flex Consumption app in this template has no virtual network, so it reaches the vault publicly (Entra ID token + RBAC); use Disabled only with private networking added.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string

@description('Days a deleted vault or secret stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('Log Analytics workspace that receives the vault audit log.')
param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_189: public network access is the parameter publicNetworkAccess: the Flex app has no virtual network here, so it reaches the vault publicly, with an Entra ID token and RBAC only.
  // checkov:skip=CKV_AZURE_109: the firewall denies by default when publicNetworkAccess is Disabled; while Enabled it must allow, because Flex Consumption outbound addresses are not fixed and the trusted-services bypass does not cover an app's own calls.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
    }
  }
}

resource auditLog 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
