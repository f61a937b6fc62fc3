// Committed stand-in for the gitignored next-env.d.ts, so `tsc -p dashboard/tsconfig.json` works before
// the first `next build`: Next's ambient types (CSS modules, images, JSX for app router).
/// <reference types="next" />
/// <reference types="next/image-types/global" />
