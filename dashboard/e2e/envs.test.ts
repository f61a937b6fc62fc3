/**
 * The Environments tab in a real Chromium against a real `peep up`: the owner sets variables with a
 * message (a secret is masked in the table, revealed on demand and hidden again, and the reveal shows
 * in the environment's audit view and its NDJSON export); the history lists the versions and their
 * side-by-side diff; a rollback asks for confirmation and creates a new version; an edit based on a
 * version that moved meanwhile (changed through the API) gets the conflict banner, and a reload lets
 * it save; a service override shows in that service's view; dev is promoted to staging after a
 * preview; a developer proposes a prod change, cannot approve it, and the owner approves it; a save
 * refused with approval_required becomes a proposal the owner rejects; a freeze shows its banner.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { APIRequestContext, Browser, Page } from 'playwright-core';
import { haveChromium, horizontalOverflow, launchChromium, openPage, shot, stepper } from './browser.js';
import { BIN, freePort, runPeep, waitReady } from './peep.js';

const SETUP_LINK = /(https?:\/\/\S+\/setup\?token=[A-Za-z0-9_-]+)/;
const OWNER = { name: 'Env Owner', email: 'envs-owner@example.com', password: 'correct horse battery' };
const DEV = { name: 'Env Developer', email: 'envs-dev@example.com', password: 'another long secret' };
const TOKEN = 's3cr3t-dev-token-4242';

type Method = 'GET' | 'POST' | 'PUT';

/** JSON calls of one signed-in browser context (its cookies), asserting the status. */
function caller(base: string, request: APIRequestContext, csrf: string) {
  return async <T>(method: Method, p: string, data?: unknown, want = method === 'POST' ? 201 : 200) => {
    const res = await request.fetch(`${base}/api/v1${p}`, {
      method,
      data,
      headers: { 'x-csrf-token': csrf },
    });
    assert.equal(res.status(), want, `${method} ${p}: ${await res.text()}`);
    return (await res.json()) as T;
  };
}

/** Adds one variable to the draft through the editor form. */
async function addVar(page: Page, key: string, value: string) {
  await page.getByLabel('Key', { exact: true }).fill(key);
  await page.getByLabel('Value', { exact: true }).fill(value);
  await page.getByRole('button', { name: 'Add to draft' }).click();
  await page.locator(`tr[data-key="${key}"]`).waitFor();
}

async function saveDraft(page: Page, message: string) {
  await page.getByLabel('Change message').fill(message);
  await page.getByRole('button', { name: /^Save \d+ change/ }).click();
}

test('Environments tab in Chromium: variables, reveal, history, diff, rollback, conflict, promotion, approvals', {
  timeout: 240_000,
}, async (t) => {
  if (!haveChromium(t)) return;
  assert.ok(fs.existsSync(BIN), `${BIN} is missing: run npm run build:ts first`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-e2e-envs-'));
  const port = await freePort();
  const server = runPeep(['up'], {
    PEEP_PORT: String(port),
    PEEP_DATA_DIR: path.join(tmp, 'data'),
    PEEP_LOG_LEVEL: 'warn',
  });
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close().catch(() => {});
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const setupLink = await server.waitFor(SETUP_LINK, 180_000);
  const base = new URL(setupLink).origin;
  await waitReady(server, base, 60_000);

  browser = await launchChromium();
  const { context, page, consoleErrors } = await openPage(browser, { width: 1280, height: 900 });
  const token = new URL(setupLink).searchParams.get('token');
  const setup = await context.request.post(`${base}/api/v1/setup`, { data: { token, ...OWNER } });
  assert.equal(setup.status(), 201, await setup.text());
  const owner = caller(base, context.request, ((await setup.json()) as { csrfToken: string }).csrfToken);

  const { project } = await owner<{ project: { id: string } }>('POST', '/projects', { name: 'Shop' });
  const pid = project.id;
  await owner('POST', `/projects/${pid}/services`, { name: 'Checkout', slug: 'checkout' });
  const envsUrl = (query = '') => `${base}/projects/${pid}${query}#environments`;
  const vars = (env: string) =>
    owner<{ version: number; vars: { key: string; value: string | null; secret: boolean }[] }>(
      'GET',
      `/projects/${pid}/envs/${env}/vars`,
    );
  const step = stepper(t, page, 'envs-');

  await step('the owner sets variables with a message; the secret is masked in the table', async () => {
    await page.goto(envsUrl());
    await page.getByRole('tab', { name: 'Environments', selected: true }).waitFor();
    await page.getByRole('button', { name: 'Development' }).waitFor();
    assert.equal(
      await page.getByRole('button', { name: 'Development' }).getAttribute('aria-pressed'),
      'true',
    );
    await page.getByText('No variables in dev yet.').waitFor();
    await addVar(page, 'DATABASE_URL', 'postgres://db.dev:5432/shop');
    await addVar(page, 'API_TOKEN', TOKEN);
    await addVar(page, 'LOG_LEVEL', 'info');
    // The name decides the secret flag by default, as the API does.
    assert.match((await page.locator('tr[data-key="API_TOKEN"]').textContent()) ?? '', /secret/);
    assert.doesNotMatch((await page.locator('tr[data-key="LOG_LEVEL"]').textContent()) ?? '', /secret/);
    await saveDraft(page, 'first config of dev');
    await page.getByText('Saved as version 1.').waitFor();
    await page.getByText('dev is at version 1').waitFor();
    assert.match(
      (await page.locator('tr[data-key="DATABASE_URL"]').textContent()) ?? '',
      /postgres:\/\/db\.dev/,
    );
    assert.equal((await page.content()).includes(TOKEN), false, 'the secret is not in the page');

    // A second version: one value edited, one added.
    await page.getByRole('button', { name: 'Edit LOG_LEVEL' }).click();
    assert.equal(await page.getByLabel('Value', { exact: true }).inputValue(), 'info');
    await page.getByLabel('Value', { exact: true }).fill('debug');
    await page.getByRole('button', { name: 'Add to draft' }).click();
    await addVar(page, 'FEATURE_CHECKOUT', 'on');
    await saveDraft(page, 'more logs, checkout on');
    await page.getByText('Saved as version 2.').waitFor();
    const v = await vars('dev');
    assert.equal(v.version, 2);
    assert.deepEqual(v.vars.map((x) => [x.key, x.secret]).sort(), [
      ['API_TOKEN', true],
      ['DATABASE_URL', false],
      ['FEATURE_CHECKOUT', false],
      ['LOG_LEVEL', false],
    ]);
    assert.equal(await horizontalOverflow(page), 0);
    await shot(page, 'envs-table');
    // A phone-sized screen: the table scrolls inside its frame, the page does not.
    await page.setViewportSize({ width: 375, height: 812 });
    assert.equal(await horizontalOverflow(page), 0);
    await shot(page, 'envs-table-mobile');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step(
    'a secret is revealed on request, hidden again, and the reveal is in the audit view',
    async () => {
      const row = page.locator('tr[data-key="API_TOKEN"]');
      await page.getByRole('button', { name: 'Reveal API_TOKEN' }).click();
      await row.getByText(TOKEN).waitFor();
      await page.getByRole('button', { name: 'Hide API_TOKEN' }).click();
      await page.getByRole('button', { name: 'Reveal API_TOKEN' }).waitFor();
      assert.equal((await row.textContent())?.includes(TOKEN), false);

      await page.getByRole('button', { name: 'Audit', exact: true }).click();
      const reveal = page.locator('tr[data-action="env.reveal"]');
      await reveal.first().waitFor();
      assert.match((await reveal.first().textContent()) ?? '', /API_TOKEN/);
      assert.match((await reveal.first().textContent()) ?? '', new RegExp(OWNER.email));
      assert.ok((await page.locator('tr[data-action="env.change"]').count()) >= 2, 'both saves are audited');
      const href = (await page.getByRole('link', { name: 'Export NDJSON' }).getAttribute('href')) ?? '';
      assert.match(href, /format=ndjson/);
      const res = await context.request.get(`${base}${href}`);
      assert.equal(res.headers()['content-type']?.split(';')[0], 'application/x-ndjson');
      const body = await res.text();
      const lines = body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { action: string; environment: string });
      assert.ok(lines.some((l) => l.action === 'env.reveal'));
      assert.ok(lines.every((l) => l.environment === 'dev' && l.action.startsWith('env.')));
      assert.equal(body.includes(TOKEN), false, 'no value in the audit export');
      await shot(page, 'envs-audit');
    },
  );

  await step('the history shows both versions and their side-by-side diff', async () => {
    await page.getByRole('button', { name: 'History', exact: true }).click();
    const versions = page.locator('tr[data-version]');
    await versions.nth(1).waitFor();
    assert.equal(await versions.count(), 2);
    assert.match(
      (await versions.nth(0).textContent()) ?? '',
      /v2.*more logs, checkout on.*envs-owner@example\.com/,
    );
    assert.match((await versions.nth(0).textContent()) ?? '', /FEATURE_CHECKOUT/);
    assert.match((await versions.nth(0).textContent()) ?? '', /LOG_LEVEL/);
    assert.match((await versions.nth(1).textContent()) ?? '', /v1.*first config of dev/);
    const diff = page.getByRole('table', { name: 'Diff' });
    await diff.waitFor();
    assert.match(
      (await diff.locator('tr[data-key="LOG_LEVEL"]').textContent()) ?? '',
      /changed\s*info\s*debug/,
    );
    assert.match(
      (await diff.locator('tr[data-key="FEATURE_CHECKOUT"]').textContent()) ?? '',
      /added\s*—\s*on/,
    );
    assert.equal(
      await page.getByTestId('diff-summary').textContent(),
      '1 added, 0 removed, 1 changed, 2 unchanged',
    );
    await shot(page, 'envs-diff');

    // Against another environment: staging is empty, so everything of dev is "added".
    await page.getByLabel('Compare', { exact: true }).selectOption('env:staging');
    await page.getByRole('button', { name: 'Show diff' }).click();
    await page.getByText('4 added, 0 removed, 0 changed, 0 unchanged').waitFor();
    const secretRow = diff.locator('tr[data-key="API_TOKEN"]');
    assert.match((await secretRow.textContent()) ?? '', /••••/);
    assert.equal((await secretRow.textContent())?.includes(TOKEN), false, 'secret values masked in diffs');
  });

  await step('rollback asks for confirmation and creates a new version equal to the old one', async () => {
    await page.getByRole('button', { name: 'Roll back to version 1' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? '', /creates version 3 of dev, equal to version 1/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await vars('dev')).version, 2, 'cancel changes nothing');

    await page.getByRole('button', { name: 'Roll back to version 1' }).click();
    await dialog.getByLabel('Message').fill('checkout broke the build');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await page.getByText('Version 3 restores version 1.').waitFor();
    await page.locator('tr[data-version="3"]').waitFor();
    assert.match(
      (await page.locator('tr[data-version="3"]').textContent()) ?? '',
      /rollback to v1.*checkout broke/,
    );
    const v = await vars('dev');
    assert.equal(v.version, 3);
    assert.deepEqual(v.vars.map((x) => x.key).sort(), ['API_TOKEN', 'DATABASE_URL', 'LOG_LEVEL']);
    assert.equal(v.vars.find((x) => x.key === 'LOG_LEVEL')?.value, 'info');
  });

  await step(
    'a save based on a version that moved meanwhile shows the conflict banner; reload and retry',
    async () => {
      await page.getByRole('button', { name: 'Variables', exact: true }).click();
      await page.getByText('dev is at version 3').waitFor();
      await addVar(page, 'CACHE_TTL', '60');
      // Someone else changes dev through the API while the draft is open.
      await owner('PUT', `/projects/${pid}/envs/dev/vars`, {
        baseVersion: 3,
        message: 'meanwhile',
        set: [{ key: 'REGION', value: 'eu-west-1' }],
      });
      await saveDraft(page, 'cache for a minute');
      const banner = page.getByTestId('conflict-banner');
      await banner.waitFor();
      assert.match(
        (await banner.textContent()) ?? '',
        /changed by someone else since you opened them \(now version 4, you started from 3\) — review and retry/,
      );
      await shot(page, 'envs-conflict');
      await banner.getByRole('button', { name: 'Reload the variables' }).click();
      await page.getByText('dev is at version 4').waitFor();
      await banner.waitFor({ state: 'detached' });
      await page.locator('tr[data-key="REGION"]').waitFor();
      assert.match(
        (await page.locator('tr[data-key="CACHE_TTL"]').textContent()) ?? '',
        /new/,
        'the draft is kept',
      );
      await saveDraft(page, 'cache for a minute');
      await page.getByText('Saved as version 5.').waitFor();
    },
  );

  await step('a service override and the service filter', async () => {
    await page.getByLabel('Key', { exact: true }).fill('LOG_LEVEL');
    await page.getByLabel('Value', { exact: true }).fill('warn');
    await page.getByLabel('Scope', { exact: true }).selectOption('checkout');
    await page.getByRole('button', { name: 'Add to draft' }).click();
    const override = page.locator('tr[data-key="LOG_LEVEL"][data-scope="checkout"]');
    await override.waitFor();
    await saveDraft(page, 'checkout logs less');
    await page.getByText('Saved as version 6.').waitFor();
    assert.match((await override.textContent()) ?? '', /override: checkout\s*warn\s*v6/);
    const rows = page.locator('tr[data-key="LOG_LEVEL"]');
    assert.equal(await rows.count(), 2);
    // checkout's view: its override replaces the environment's value.
    await page.getByLabel('Service filter').selectOption('checkout');
    await override.waitFor();
    assert.equal(await rows.count(), 1);
    assert.ok((await page.locator('tr[data-key="DATABASE_URL"]').count()) === 1, 'environment values stay');
    await page.getByLabel('Service filter').selectOption({ label: 'Environment-wide only' });
    await override.waitFor({ state: 'detached' });
    assert.equal(await rows.getAttribute('data-scope'), 'environment');
    await page.getByLabel('Service filter').selectOption({ label: 'Every scope' });
    await page.getByRole('button', { name: 'Development v6' }).waitFor();
  });

  await step('promotion dev → staging: preview with the diff, then applied', async () => {
    await page.getByRole('button', { name: 'Promote', exact: true }).click();
    assert.equal(await page.getByLabel('Target environment').inputValue(), 'staging');
    await page.getByRole('checkbox', { name: 'REGION' }).uncheck();
    await page.getByRole('button', { name: 'Preview promotion' }).click();
    const preview = page.getByTestId('promotion-preview');
    await preview.waitFor();
    assert.match((await preview.textContent()) ?? '', /dev@v6 → staging@v0/);
    const table = page.getByRole('table', { name: 'Promotion preview' });
    assert.deepEqual(
      await table.locator('tr[data-key]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-key'))),
      ['API_TOKEN', 'CACHE_TTL', 'DATABASE_URL', 'LOG_LEVEL'],
    );
    assert.equal((await preview.textContent())?.includes(TOKEN), false, 'secret masked in the preview');
    await page.getByText('Every required key is present after the promotion.').waitFor();
    await shot(page, 'envs-promotion-preview');
    await page.getByRole('button', { name: 'Promote to staging' }).click();
    await page.getByText('Promoted: staging is now at version 1.').waitFor();
    await page.getByRole('button', { name: 'Staging v1' }).waitFor();
    const staging = await vars('staging');
    assert.deepEqual(staging.vars.map((x) => [x.key, x.secret]).sort(), [
      ['API_TOKEN', true],
      ['CACHE_TTL', false],
      ['DATABASE_URL', false],
      ['LOG_LEVEL', false],
    ]);
  });

  const dev = await openPage(browser, { width: 1280, height: 900 });
  await step('a developer proposes a prod change; they cannot approve it, the owner does', async () => {
    const invite = await owner<{ inviteUrl: string }>('POST', '/invites', { email: DEV.email });
    const devSetup = await dev.context.request.post(`${base}/api/v1/setup`, {
      data: {
        token: new URL(invite.inviteUrl).searchParams.get('token'),
        name: DEV.name,
        password: DEV.password,
      },
    });
    assert.equal(devSetup.status(), 201, await devSetup.text());
    await owner('POST', `/projects/${pid}/members`, { email: DEV.email, role: 'developer' });

    const dp = dev.page;
    await dp.goto(envsUrl('?env=prod'));
    await dp.getByText('Variables of Production').waitFor();
    await dp.getByText('Your role (developer) may propose changes to prod').waitFor();
    await addVar(dp, 'PAYMENT_MODE', 'live');
    await dp.getByLabel('Change message').fill('go live with payments');
    await dp.getByRole('button', { name: 'Propose change' }).click();
    await dp.getByText('Proposal #1 is waiting for approval by an admin or owner.').waitFor();
    assert.equal((await vars('prod')).version, 0, 'nothing applied yet');

    await dp.getByRole('button', { name: 'Approvals', exact: true }).click();
    const mine = dp.locator('tr[data-proposal="1"]');
    await mine.waitFor();
    assert.match((await mine.textContent()) ?? '', /go live with payments.*envs-dev@example\.com\s*you/);
    assert.equal(await mine.getByRole('button', { name: /Approve/ }).count(), 0, 'no self-approval');
    await mine.getByRole('button', { name: 'Cancel proposal 1' }).waitFor();

    await page.goto(envsUrl('?env=prod&view=approvals'));
    const row = page.locator('tr[data-proposal="1"]');
    await row.waitFor();
    await row.getByRole('button', { name: 'Show diff' }).click();
    const diff = page.getByRole('table', { name: 'Proposal 1' });
    assert.match((await diff.locator('tr[data-key="PAYMENT_MODE"]').textContent()) ?? '', /added\s*—\s*live/);
    await shot(page, 'envs-approvals');
    await row.getByRole('button', { name: 'Approve proposal 1' }).click();
    await page.getByText('Proposal #1 applied as version 1 of prod.').waitFor();
    await page.getByText('No proposals wait for prod.').waitFor();
    const prod = await vars('prod');
    assert.equal(prod.version, 1);
    assert.equal(prod.vars.find((x) => x.key === 'PAYMENT_MODE')?.value, 'live');

    await page.getByRole('button', { name: 'History', exact: true }).click();
    assert.match(
      (await page.locator('tr[data-version="1"]').textContent()) ?? '',
      /go live with payments.*proposal #1, approved by envs-owner@example\.com.*envs-dev@example\.com/,
    );
  });

  await step(
    'a save refused with approval_required offers "Propose change"; the owner rejects it',
    async () => {
      const dp = dev.page;
      await dp.goto(envsUrl('?env=dev'));
      await dp.getByText('Variables of Development').waitFor();
      // Developers reveal dev's secrets (revealRole developer); the audit view is for admins and owners.
      await dp.getByRole('button', { name: 'Reveal API_TOKEN' }).waitFor();
      assert.equal(await dp.getByRole('button', { name: 'Audit', exact: true }).count(), 0);
      await addVar(dp, 'WORKERS', '4');
      // The policy tightens while the developer's page still says they may change dev.
      await owner('PUT', `/projects/${pid}/envs/dev/policy`, {
        readRole: 'viewer',
        revealRole: 'developer',
        changeRole: 'admin',
        proposeRole: 'developer',
        approveRole: 'admin',
      });
      await saveDraft(dp, 'more workers');
      await dp.getByText('Changes to dev need approval by an admin or owner.').waitFor();
      await dp.getByRole('button', { name: 'Propose change' }).click();
      await dp.getByText('Proposal #2 is waiting for approval by an admin or owner.').waitFor();

      await page.goto(envsUrl('?env=dev&view=approvals'));
      await page.getByRole('button', { name: 'Reject proposal 2' }).click();
      await page.getByText('Proposal #2 rejected.').waitFor();
      await page.getByText('No proposals wait for dev.').waitFor();
      assert.equal(
        (await vars('dev')).vars.some((x) => x.key === 'WORKERS'),
        false,
      );
    },
  );

  await step('a frozen environment shows until when', async () => {
    const until = new Date(Date.now() + 3_600_000).toISOString();
    await owner('POST', `/projects/${pid}/envs/staging/freezes`, { endsAt: until, reason: 'release 2.0' });
    await page.goto(envsUrl('?env=staging'));
    const banner = page.getByTestId('freeze-banner');
    await banner.waitFor();
    assert.match((await banner.textContent()) ?? '', /Staging is frozen until .*release 2\.0/);
  });

  await step('no script errors; the only failed requests are the deliberate 409 and 403', async () => {
    const expected = /Failed to load resource: the server responded with a status of 40[39]/;
    assert.deepEqual(
      [...consoleErrors, ...dev.consoleErrors].filter((e) => !expected.test(e)),
      [],
    );
  });
});
