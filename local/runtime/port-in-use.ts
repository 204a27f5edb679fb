/** A server's start failure, where a port already taken names the option that changes it. */
export const whenPortInUse =
  (port: number, option: string) =>
  (err: unknown): never => {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new Error(`Port ${port} is already in use: pass ${option} N to use another.`);
  };
