/** `peep migrate`: applies pending SQL migrations to the configured database (DATABASE_URL, else the embedded database in PEEP_DATA_DIR). */
import type { Context } from '../context.js';

export async function migrate(ctx: Context): Promise<void> {
  const { runMigrate } = await import('../up.js');
  const result = await runMigrate();
  ctx.out.result(result, () => {
    if (result.applied.length === 0) ctx.out.line(`Database is up to date (version ${result.current}).`);
    else {
      for (const m of result.applied) ctx.out.line(`applied ${m}`);
      ctx.out.line(`Database is at version ${result.current}.`);
    }
  });
}
