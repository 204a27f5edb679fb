export * from './engine';
export * from './errors';
export * from './http-api';
export * from './replay';
export * from './store';
export * from './types';
