// A Playwright browser server: Playwright's own launchServer, run by the Node.js and the
// playwright-core that the Python package ships (Python Playwright has no launchServer).
// Started by agent/play/server.py; its settings come in the environment, not argv, so the
// token does not show in `ps` to other users.
//
// stdout: one JSON line, {"wsEndpoint": ...} once listening or {"error": ...} on failure.
"use strict";

const http = require("http");

const settings = JSON.parse(process.env.SELLER_AGENT_SERVER_SETTINGS || "{}");

// The server answers plain HTTP GET /json with its path, so anyone who can reach the port
// could read the token. Only WebSocket upgrades (handled apart from the request handler) are
// served; every plain HTTP request gets an empty 404.
const createServer = http.createServer;
http.createServer = function (...args) {
  const server = createServer.apply(this, args);
  server.removeAllListeners("request");
  server.on("request", (request, response) => {
    response.statusCode = 404;
    response.end();
  });
  return server;
};

function say(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

async function main() {
  const playwright = require(settings.package);
  const server = await playwright.chromium.launchServer({
    executablePath: settings.executablePath,
    args: settings.args,
    headless: true,
    host: settings.host,
    port: settings.port,
    wsPath: settings.wsPath,
    // Signals are handled below: the browser closes once, cleanly, whatever stops us.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  let closing = false;
  const stop = async () => {
    if (closing) return;
    closing = true;
    try {
      await server.close();
    } finally {
      process.exit(0);
    }
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, stop);
  // The parent holds our stdin open; when it goes away (killed, even by SIGKILL), so do we,
  // and no Chromium is left behind.
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
  server.on("close", () => {
    if (!closing) {
      say({ event: "browser closed" });
      process.exit(3);
    }
  });
  say({ wsEndpoint: server.wsEndpoint() });
}

main().catch((error) => {
  say({ error: String((error && error.message) || error).split("\n")[0] });
  process.exit(1);
});
