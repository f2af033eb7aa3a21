// Tokens: our own ES256 tokens, expiry, foreign keys, and tokens of a trusted external OIDC issuer
// verified through its published JWKS (served here by a local HTTP server).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenVerifier, issueToken, loadOrCreateSigningKey, parseDuration } from "./tokens.js";

describe("tokens", () => {
  const dirs: string[] = [];
  let issuerServer: Server;
  let issuer: string;
  let issuerKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    issuerKey = privateKey;
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    issuerServer = createServer((req, res) => {
      if (req.url === "/.well-known/openid-configuration") {
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
      } else if (req.url === "/keys") {
        res.end(JSON.stringify({ keys: [jwk] }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => issuerServer.listen(0, "127.0.0.1", () => r()));
    issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((r) => issuerServer.close(() => r()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "weft-tok-"));
    dirs.push(d);
    return d;
  };

  it("issues tokens that verify, with scopes, subject and spaces", async () => {
    const key = await loadOrCreateSigningKey(tmp());
    const jwt = await issueToken(key, { scopes: ["network.write"], subject: "dev", spaces: ["s1", "s2"], ttlSeconds: 60 });
    const p = await new TokenVerifier({ localKey: key }).verify(jwt);
    expect(p).toMatchObject({ subject: "dev", scopes: ["network.write"], isAdmin: false, spaces: ["s1", "s2"] });
  });

  it("keeps the same key across restarts and rejects other keys, expiry and garbage", async () => {
    const dir = tmp();
    const key = await loadOrCreateSigningKey(dir);
    const again = await loadOrCreateSigningKey(dir);
    expect(again.kid).toBe(key.kid);
    const other = await loadOrCreateSigningKey(tmp());
    const verifier = new TokenVerifier({ localKey: key });
    await expect(verifier.verify(await issueToken(other, { scopes: ["network.admin"], subject: "x", ttlSeconds: 60 }))).rejects.toThrow(
      /failed to verify/,
    );
    const expired = await new SignJWT({ scope: ["network.admin"] })
      .setProtectedHeader({ alg: "ES256", kid: key.kid })
      .setIssuer("weft")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(key.privateKey);
    await expect(verifier.verify(expired)).rejects.toThrow(/failed to verify/);
    for (const junk of ["", "a.b.c", "not-a-token", "....", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ3ZWZ0In0."]) {
      await expect(verifier.verify(junk)).rejects.toThrow(/failed to verify/);
    }
  });

  it("accepts tokens of a trusted OIDC issuer through its JWKS, and only of trusted ones", async () => {
    const key = await loadOrCreateSigningKey(tmp());
    const external = await new SignJWT({ scope: "network.admin openid", sub: "alice" })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuer(issuer)
      .setExpirationTime("5m")
      .sign(issuerKey);
    const trusting = new TokenVerifier({ localKey: key, trustedIssuers: [issuer] });
    expect(await trusting.verify(external)).toMatchObject({ subject: "alice", isAdmin: true, issuer });
    await expect(new TokenVerifier({ localKey: key }).verify(external)).rejects.toThrow(/failed to verify/);
  });

  it("parses durations", () => {
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("15m")).toBe(900);
    expect(parseDuration("1h")).toBe(3600);
    expect(parseDuration("7d")).toBe(604800);
    expect(() => parseDuration("1y")).toThrow(/invalid duration/);
    expect(() => parseDuration("0h")).toThrow(/positive/);
  });
});
