export * from './engine';
export * from './entities';
export * from './entities-protocol';
export * from './errors';
export * from './http-api';
export * from './replay';
export * from './store';
export * from './types';
