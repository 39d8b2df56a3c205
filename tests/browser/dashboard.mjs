// The dashboard of `cortex serve` in a real browser: Debian's Chromium, headless, driven by
// playwright-core. Run by tests/serve_browser.rs, which starts the server on a run that waits
// and passes where everything is:
//   BASE (the server), TOKEN, RUN (a scenario run), PARENT (a workflow run waiting with its
//   child run, whose step `inspect` waits for a report), CORTEX_BIN and CORTEX_HOME (to act from
//   "another terminal"), SHOTS (where screenshots go), PROFILE (a fresh user data dir).
import { chromium } from 'playwright-core';
import { spawnSync } from 'node:child_process';

const { BASE, TOKEN, RUN, PARENT, CORTEX_BIN, CORTEX_HOME, SHOTS, PROFILE } = process.env;
const step = (what) => console.log(`browser: ${what}`);
const fail = (what) => { throw new Error(what); };

const context = await chromium.launchPersistentContext(PROFILE, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] ?? await context.newPage();
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });

// A phase's card and its status badge.
const card = (phase) => page.locator(`article.step[data-step="${phase}"]`);
const status = async (phase) => (await card(phase).locator('header .badge').first().textContent()).trim();
const waitStatus = async (phase, want) => {
  await page.waitForFunction(([p, w]) => {
    const b = document.querySelector(`article.step[data-step="${p}"] header .badge`);
    return b && b.textContent.trim() === w;
  }, [phase, want], { timeout: 30000 });
};

try {
  // Sign in with the address `cortex serve` prints: the token moves into a cookie.
  step('sign in and load the runs page');
  await page.goto(`${BASE}/?token=${TOKEN}`);
  if (new URL(page.url()).search.includes('token')) fail('the token stayed in the address');
  // The sign-in's form key came in the fragment: kept in this origin's storage, out of the address.
  if (new URL(page.url()).hash.includes('cortex-key')) fail('the form key stayed in the address');
  // Kept once the server has said it is this sign-in's (`POST /login/key`).
  await page.waitForFunction(() => localStorage.getItem('cortex-form-key'), null, { timeout: 10000 });
  const kept = await page.evaluate(() => localStorage.getItem('cortex-form-key'));
  // A link of any site with a key of its own does not replace it.
  const quiet = problems.length;
  const asked = page.waitForResponse((r) => r.url().endsWith('/login/key'), { timeout: 10000 });
  await page.goto(`${BASE}/catalog#cortex-key=evil`);
  if ((await asked).status() !== 401) fail('a linked form key was not refused by the server');
  await page.waitForFunction(() => location.hash === '', null, { timeout: 10000 });
  // The refusal (401) is what the browser logs of it: expected here.
  problems.splice(quiet).filter((p) => !p.includes('status of 401')).forEach((p) => problems.push(p));
  if ((await page.evaluate(() => localStorage.getItem('cortex-form-key'))) !== kept) fail('a linked form key replaced the sign-in\'s');
  await page.goto(`${BASE}/`);
  const row = page.locator(`tr[data-run="${RUN}"]`);
  await row.waitFor();
  if (!(await row.textContent()).includes('browse')) fail('the runs page does not show the run');
  await page.screenshot({ path: `${SHOTS}/runs.png`, fullPage: true });

  step('open the run: its graph and phases');
  await Promise.all([page.waitForNavigation(), row.locator('td.name a').click()]);
  if (!page.url().endsWith(`/runs/${RUN}`)) fail(`opened ${page.url()}`);
  const nodes = await page.locator('svg.dag g.node').count();
  if (nodes !== 5) fail(`the graph has ${nodes} nodes, not 5`);
  const edges = await page.locator('svg.dag path.edge').count();
  if (edges !== 3) fail(`the graph has ${edges} edges, not 3`);
  const phases = await page.locator('article.step').count();
  if (phases !== 5) fail(`${phases} phase cards, not 5`);
  if ((await page.locator('.verify.ok').count()) === 0) fail('no verified badge');
  if ((await status('plan')) !== 'waiting') fail('plan is not waiting');
  // The badge says "live" once the event stream is connected; the forms' Token fields are
  // filled with the form key, and hidden.
  await page.waitForFunction(() => document.querySelector('.live-dot')?.textContent.trim() === 'live', null, { timeout: 30000 });
  if ((await page.locator('label.form-key:not([hidden])').count()) !== 0) fail('a Token field is shown to a signed-in browser');

  step('a stream the server turns away (503) is tried again; "not live" meanwhile');
  const events = /\/api\/v1\/runs\/[^/]+\/events/;
  let refused = 0;
  const said = problems.length;
  await page.route(events, (route) => {
    if (refused === 0) {
      refused += 1;
      return route.fulfill({ status: 503, headers: { 'retry-after': '5' }, contentType: 'application/json', body: '{"error":"busy"}' });
    }
    return route.continue();
  });
  await page.reload();
  await page.waitForFunction(() => document.querySelector('.live-dot')?.textContent.trim() === 'not live', null, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelector('.live-dot')?.textContent.trim() === 'live', null, { timeout: 30000 });
  if (refused !== 1) fail(`the stream was refused ${refused} times, not once`);
  await page.unroute(events);
  // The browser's own line for the refusal made here is no problem of the page's.
  for (let i = problems.length - 1; i >= said; i--) {
    if (problems[i].includes('status of 503')) { problems.splice(i, 1); }
  }

  step('start the manual phase from the page');
  await card('review').locator('form[action$="/start"] input[name=message]').fill('ready for review');
  await Promise.all([page.waitForNavigation(), card('review').locator('form[action$="/start"] button').click()]);
  await page.locator('table.events td.type', { hasText: 'phase_start_requested' }).waitFor();
  if ((await card('review').locator('form[action$="/start"]').count()) !== 0) fail('review can still be started');

  step('complete a phase from the page (its checklist confirmed, its outputs reported)');
  const complete = card('plan').locator('form[action$="/complete"]');
  await complete.locator('input[name=confirm_at]').check();
  await complete.locator('textarea[name=outputs]').fill('plan_file=plan.md');
  await complete.locator('input[name=message]').fill('the plan is written');
  await Promise.all([page.waitForNavigation(), complete.locator('button').click()]);
  await waitStatus('plan', 'completed');
  // Its background driver runs `build`, then `review` (started above) waits for a report:
  // the page follows without a reload.
  await waitStatus('build', 'completed');
  await waitStatus('review', 'waiting');
  const reported = await card('plan').locator('.reported').textContent();
  if (!reported.includes('the plan is written')) fail(`the message is not shown: ${reported}`);

  step('a change made from another terminal appears without a reload');
  await page.evaluate(() => { window.__sameDocument = true; });
  const updates = Number(await page.locator('body').getAttribute('data-updates') ?? 0);
  const cli = spawnSync(CORTEX_BIN, ['--home', CORTEX_HOME, 'orchestrate', 'complete', RUN, 'notes',
    '--actor', 'another-terminal', '--no-drive'], { stdio: 'inherit' });
  // 3: recorded, and the run still waits (for `ship`'s report).
  if (cli.status !== 3) fail(`cortex orchestrate complete exited ${cli.status}`);
  await waitStatus('notes', 'completed');
  if (!(await page.evaluate(() => window.__sameDocument === true))) fail('the page was reloaded');
  const after = Number(await page.locator('body').getAttribute('data-updates') ?? 0);
  if (after <= updates) fail('the update did not come through the live stream');
  if (!(await card('notes').locator('.reported').textContent()).includes('another-terminal')) {
    fail('the other terminal is not named');
  }
  await page.screenshot({ path: `${SHOTS}/run.png`, fullPage: true });

  step("a parent run's page follows its child run: a report on the child shows without a reload");
  await page.goto(`${BASE}/runs/${PARENT}`);
  const waiting = page.locator('article.step[data-step="call"] .uses .waiting');
  if (!(await waiting.textContent()).includes('inspect')) fail('the parent does not say what its child waits on');
  const child = (await page.locator('section#live').getAttribute('data-watch')).split(':')[0];
  await page.evaluate(() => { window.__sameDocument = true; });
  const seen = Number(await page.locator('body').getAttribute('data-updates') ?? 0);
  // Recorded on the child alone (nothing drives the parent): only the child's stream moves.
  const report = spawnSync(CORTEX_BIN, ['--home', CORTEX_HOME, 'workflow', 'step', 'complete', 'inspect',
    '--run', child, '--no-drive'], { stdio: 'inherit' });
  if (report.status !== 3) fail(`cortex workflow step complete exited ${report.status}`);
  await page.waitForFunction((n) => Number(document.body.getAttribute('data-updates') ?? 0) > n, seen, { timeout: 30000 });
  if (!(await page.evaluate(() => window.__sameDocument === true))) fail('the parent page was reloaded');
  if ((await waiting.count()) && (await waiting.textContent()).includes('inspect')) fail('the parent still shows the old wait');

  step('the catalog and the agents');
  await page.goto(`${BASE}/catalog`);
  await page.locator('a', { hasText: 'browse' }).first().waitFor();
  await page.goto(`${BASE}/catalog/scenarios/browse`);
  if ((await page.locator("svg.dag g.node").count()) !== 5) fail('the scenario preview has no graph');
  await page.screenshot({ path: `${SHOTS}/scenario.png`, fullPage: true });
  await page.goto(`${BASE}/agents`);
  await page.getByRole('cell', { name: 'writer', exact: true }).waitFor();

  step('run a workflow from its form (typed inputs)');
  await page.goto(`${BASE}/catalog/workflows/release`);
  await page.locator('input[name="input.version"]').fill('1.4.0');
  await page.locator('select[name="input.dry_run"]').selectOption('true');
  await Promise.all([page.waitForNavigation(), page.locator('section.run-form button[type=submit]').click()]);
  if (!/\/runs\/[0-9A-Z]{26}$/.test(page.url())) fail(`the run form led to ${page.url()}`);
  await page.waitForFunction(() => {
    const b = document.querySelector('.page-head .badge');
    return b && b.textContent.trim() === 'completed';
  }, null, { timeout: 30000 });
  const inputs = await page.locator('table.inputs').textContent();
  if (!inputs.includes('1.4.0') || !inputs.includes('true')) fail(`the inputs are not shown: ${inputs}`);

  step('a run started from another terminal appears on the runs page without a reload');
  await page.goto(`${BASE}/`);
  const before = await page.locator('table.runs tbody tr').count();
  await page.evaluate(() => { window.__sameDocument = true; });
  const run = spawnSync(CORTEX_BIN, ['--home', CORTEX_HOME, 'workflow', 'run', 'deploy'], { stdio: 'inherit' });
  if (run.status !== 0) fail(`cortex workflow run exited ${run.status}`);
  await page.waitForFunction((n) => document.querySelectorAll('table.runs tbody tr').length > n, before, { timeout: 30000 });
  if (!(await page.evaluate(() => window.__sameDocument === true))) fail('the runs page was reloaded');

  if (problems.length) fail(problems.join('\n'));
  step('all checks passed');
} catch (e) {
  await page.screenshot({ path: `${SHOTS}/failure.png`, fullPage: true }).catch(() => {});
  console.log(`browser: failed at ${page.url()}`);
  throw e;
} finally {
  await context.close();
}
