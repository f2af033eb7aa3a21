// The example app of `weft up`: a small HTTP server on 0.0.0.0:8080 in its container, answering
// every request with who it is and who called (the source IP it sees). Run as `node -e APP_SERVER
// READY_FILE` with CF-style environment variables; it writes READY_FILE once it listens.
export const APP_SERVER = `
const http = require("node:http");
const fs = require("node:fs");
const readyFile = process.argv[1];
const port = Number(process.env.PORT || 8080);
const me = {
  app: process.env.WEFT_APP_NAME,
  index: Number(process.env.CF_INSTANCE_INDEX),
  instance: process.env.CF_INSTANCE_GUID,
  cell: process.env.WEFT_CELL,
  ip: process.env.CF_INSTANCE_INTERNAL_IP,
};
const server = http.createServer((req, res) => {
  const body = JSON.stringify({ ...me, path: req.url, client: req.socket.remoteAddress }) + "\\n";
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
server.listen(port, "0.0.0.0", () => {
  console.log(JSON.stringify({ msg: "listening", port, ...me }));
  if (readyFile) fs.writeFileSync(readyFile, String(process.pid));
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
`;
