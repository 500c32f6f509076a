import { type Browser, chromium, type Page } from "playwright-core";

// Debian's Chromium; tests declare it with `testWithTools(["chromium"], …)`.
const CHROMIUM_PATH = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const LAUNCH_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** Default deadline for navigations, actions and {@link WatchedPage.waitFor}. */
const ACTION_TIMEOUT_MS = 10_000;

// The page reports CSP violations to the test through this exposed function.
const CSP_BINDING = "__caddisReportCspViolation";

/** A console message the page logged, with where it came from. */
export interface ConsoleEntry {
  type: string;
  text: string;
  url: string;
}

/** One `securitypolicyviolation` event the page saw. */
export interface CspViolation {
  directive: string;
  blockedURI: string;
  sample: string;
}

/** A page plus everything it reported: console output, uncaught errors, CSP violations. */
export interface WatchedPage {
  page: Page;
  console: ConsoleEntry[];
  pageErrors: string[];
  cspViolations: CspViolation[];
  /** Console messages of type error or warning, the ones a clean page never logs. */
  problems(): ConsoleEntry[];
  /** Resolves once `check()` is true, re-checking on each report; rejects after the deadline. */
  waitFor(what: string, check: () => boolean, timeoutMs?: number): Promise<void>;
}

/** A running Chromium whose pages are watched; each page gets its own fresh context. */
export interface BrowserSession {
  newPage(): Promise<WatchedPage>;
}

/**
 * Launches Chromium, runs `fn`, and always closes it again, even when `fn` throws. Playwright
 * gives the browser a fresh temporary profile and kills the process and deletes the profile on
 * close (and on exit of the test process); a close that hangs is abandoned after a deadline so a
 * broken browser cannot hang the suite.
 */
export async function withBrowser<T>(fn: (session: BrowserSession) => Promise<T>): Promise<T> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    timeout: LAUNCH_TIMEOUT_MS,
  });
  const close = () => withDeadline(browser.close(), CLOSE_TIMEOUT_MS, "closing Chromium");
  let result: T;
  try {
    result = await fn({ newPage: () => watchedPage(browser) });
  } catch (err) {
    // The test's own failure is the one worth reading; a close error on top would hide it.
    await close().catch(() => {});
    throw err;
  }
  await close();
  return result;
}

async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext();
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  const page = await context.newPage();
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of waiters) waiter();
  };

  const watched: WatchedPage = {
    page,
    console: [],
    pageErrors: [],
    cspViolations: [],
    problems: () => watched.console.filter((m) => m.type === "error" || m.type === "warning"),
    waitFor(what, check, timeoutMs = ACTION_TIMEOUT_MS) {
      if (check()) return Promise.resolve();
      let waiter = () => {};
      const met = new Promise<void>((resolve) => {
        waiter = () => {
          if (check()) resolve();
        };
        waiters.add(waiter);
      });
      return withDeadline(met, timeoutMs, `waiting for ${what}`).finally(() => {
        waiters.delete(waiter);
      });
    },
  };

  page.on("console", (message) => {
    const { url } = message.location();
    watched.console.push({ type: message.type(), text: message.text(), url });
    notify();
  });
  page.on("pageerror", (error) => {
    watched.pageErrors.push(String(error.stack ?? error));
    notify();
  });
  await page.exposeFunction(CSP_BINDING, (violation: unknown) => {
    watched.cspViolations.push(violation as CspViolation);
    notify();
  });
  // Init scripts are injected by the browser itself, so the page's CSP does not block them.
  await page.addInitScript((binding: string) => {
    document.addEventListener("securitypolicyviolation", (event) => {
      const report = (window as unknown as Record<string, (v: unknown) => void>)[binding];
      report?.({
        directive: event.effectiveDirective,
        blockedURI: event.blockedURI,
        sample: event.sample,
      });
    });
  }, CSP_BINDING);
  return watched;
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
