// Replay Chrome Recorder files the way Chrome's own Recorder does (@puppeteer/replay), one
// after another in one browser tab, so a sign-in replayed first carries over to the rest.
//
//   node replay.mjs --browser /usr/bin/chromium [--timeout MS] first.json [second.json ...]
//
// Exit 0 when every step of every file ran; otherwise 1 and one line on stderr naming the
// file, the step number (1-based, as in the file) and what went wrong.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createRunner, parse, PuppeteerRunnerExtension } from '@puppeteer/replay';
import puppeteer from 'puppeteer-core';

// Chromium's own calls home (updates, sync) are refused on a closed network; keep it quiet.
const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

function options(argv) {
  const files = [];
  let browser = null;
  let timeout = 10000;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--browser') browser = argv[++i];
    else if (argv[i] === '--timeout') timeout = Number(argv[++i]);
    else files.push(argv[i]);
  }
  if (!browser || files.length === 0) {
    throw new Error('usage: node replay.mjs --browser PATH [--timeout MS] FILE...');
  }
  return { browser, timeout, files };
}

// Knows which step is running, so a failure can name it.
class NamingExtension extends PuppeteerRunnerExtension {
  constructor(browser, page, opts, steps) {
    super(browser, page, opts);
    this.steps = steps;
    this.current = null;
  }

  async beforeEachStep(step, flow) {
    this.current = this.steps.indexOf(step) + 1;
    await super.beforeEachStep?.(step, flow);
  }
}

async function main() {
  const { browser: executablePath, timeout, files } = options(process.argv.slice(2));
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  let failed = false;
  try {
    const page = await browser.newPage();
    for (const file of files) {
      const recording = parse(JSON.parse(await readFile(file, 'utf8')));
      const extension = new NamingExtension(browser, page, { timeout }, recording.steps);
      const runner = await createRunner(recording, extension);
      try {
        await runner.run();
      } catch (error) {
        const step = recording.steps[extension.current - 1];
        const what = step ? `${step.type} ${JSON.stringify(step.selectors ?? step.url ?? '')}` : '';
        const message = String(error?.message ?? error).split('\n')[0];
        console.error(`${basename(file)}: step ${extension.current} (${what}): ${message}`);
        failed = true;
        break;
      }
      console.log(`${basename(file)}: replayed ${recording.steps.length} steps`);
    }
  } finally {
    await browser.close();
  }
  process.exitCode = failed ? 1 : 0;
}

main().catch((error) => {
  console.error(String(error?.message ?? error).split('\n')[0]);
  process.exitCode = 2;
});
