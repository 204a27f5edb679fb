/**
 * The credential Azure SDK clients use: the app's managed identity on Azure (or the developer's login through
 * DefaultAzureCredential), or a fixed bearer token when pointed at a workspace that issues its own.
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';

/** A token that does not expire for the life of the process: the local workspace's. */
export class StaticTokenCredential implements TokenCredential {
  constructor(private readonly token: string) {}

  async getToken(): Promise<AccessToken> {
    return { token: this.token, expiresOnTimestamp: Date.now() + 60 * 60 * 1000 };
  }
}

export function createCredential(options: { accessToken?: string; managedIdentityClientId?: string }): TokenCredential {
  if (options.accessToken) return new StaticTokenCredential(options.accessToken);
  if (options.managedIdentityClientId)
    return new ManagedIdentityCredential({ clientId: options.managedIdentityClientId });
  return new DefaultAzureCredential();
}
