export * from './bus.js';
export * from './config.js';
export * from './crypto.js';
export * from './db.js';
export * from './errors.js';
export * from './lock.js';
export * from './log.js';
export * from './migrate.js';
