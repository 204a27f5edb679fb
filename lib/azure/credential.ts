/**
 * The credential Azure SDK clients use: the app's managed identity on Azure (or the developer's login through
 * DefaultAzureCredential), or fixed bearer tokens when pointed at a workspace that issues its own.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';

/** The scope storage clients ask for (@azure/storage-blob's default audience). */
export const STORAGE_SCOPE = 'https://storage.azure.com/.default';

/**
 * Tokens that do not expire for the life of the process: the local workspace's. Storage gets its own token when
 * one is given (Azure Storage checks the token's audience), every other scope the ARM token.
 */
export class StaticTokenCredential implements TokenCredential {
  constructor(
    private readonly token: string,
    private readonly storageToken?: string,
  ) {}

  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    const forStorage = [scopes].flat().includes(STORAGE_SCOPE);
    return {
      token: (forStorage ? this.storageToken : undefined) ?? this.token,
      expiresOnTimestamp: Date.now() + 60 * 60 * 1000,
      tokenType: 'Bearer',
    };
  }
}

export function createCredential(options: {
  accessToken?: string;
  storageAccessToken?: string;
  managedIdentityClientId?: string;
}): TokenCredential {
  if (options.accessToken) return new StaticTokenCredential(options.accessToken, options.storageAccessToken);
  if (options.managedIdentityClientId)
    return new ManagedIdentityCredential({ clientId: options.managedIdentityClientId });
  return new DefaultAzureCredential();
}
