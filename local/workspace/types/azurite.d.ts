// Azurite ships no typings; this covers the in-process Blob service the local workspace starts.
declare module 'azurite/dist/src/blob/BlobConfiguration' {
  interface PersistenceLocation {
    locationId: string;
    locationPath: string;
    maxConcurrency: number;
  }

  class BlobConfiguration {
    constructor(
      host?: string,
      port?: number,
      keepAliveTimeout?: number,
      metadataDBPath?: string,
      extentDBPath?: string,
      persistencePathArray?: PersistenceLocation[],
      enableAccessLog?: boolean,
      accessLogWriteStream?: NodeJS.WritableStream,
      enableDebugLog?: boolean,
      debugLogFilePath?: string,
      loose?: boolean,
      skipApiVersionCheck?: boolean,
      cert?: string,
      key?: string,
      pwd?: string,
      oauth?: string,
    );
  }

  export default BlobConfiguration;
}

declare module 'azurite/dist/src/blob/BlobServer' {
  import type BlobConfiguration from 'azurite/dist/src/blob/BlobConfiguration';

  /** The LokiJS database behind a metadata store. */
  interface LokiStore {
    db: { saveDatabase(callback: (err?: Error | null) => void): void };
  }

  class BlobServer {
    constructor(configuration: BlobConfiguration);
    metadataStore: LokiStore;
    extentMetadataStore: LokiStore;
    start(): Promise<void>;
    close(): Promise<void>;
    /** `https://HOST:PORT` once started. */
    getHttpServerAddress(): string;
  }

  export default BlobServer;
}

declare module 'azurite/dist/src/common/Logger' {
  export function configLogger(enable: boolean, logFile?: string): void;
}

declare module 'azurite/dist/src/common/utils/constants' {
  export const EMULATOR_ACCOUNT_NAME: string;
  export const EMULATOR_ACCOUNT_KEY: Buffer;
}
