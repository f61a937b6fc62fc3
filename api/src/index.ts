export { buildApi, type Api } from './app.js';
export { systemClock, type Clock, type Deps } from './core/types.js';
