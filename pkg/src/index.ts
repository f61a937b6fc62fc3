export * from './errors.js';
export * from './config.js';
export * from './db.js';
export * from './migrate.js';
export * from './bus.js';
export * from './log.js';
export * from './crypto.js';
export * from './lock.js';
