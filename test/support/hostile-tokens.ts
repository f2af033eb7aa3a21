// Authorization headers for the hostile-input suite: the good ones (admin, a network.write user
// confined to a space that holds none of the seeded apps, a token with no useful scope) and many
// bad ones (missing, malformed, tampered, expired, not yet valid, alg none, HS256 key confusion,
// foreign signing key, untrusted issuer, missing claims), each with the status it must get.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, type JWTPayload } from "jose";
import { issueToken, loadOrCreateSigningKey, type SigningKey } from "../../control/auth/tokens.js";
import type { Prng } from "./prng.js";

export interface AuthCase {
  readonly name: string;
  /** The Authorization header, or undefined to send none. */
  readonly authorization: string | undefined;
  readonly expect: readonly number[];
}

export interface TokenKit {
  readonly admin: string;
  /** network.write, spaces ["hostile-space"] only. */
  readonly write: string;
  readonly bad: readonly AuthCase[];
}

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

async function signed(key: SigningKey, claims: JWTPayload, opts: { iss?: string; exp?: number | null } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" }).setIssuedAt();
  if (opts.iss !== "") jwt.setIssuer(opts.iss ?? "weft");
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 3600);
  return jwt.sign(key.privateKey);
}

/** dataDir is the control's, whose signing key makes the validly signed tokens. */
export async function tokenKit(dataDir: string, prng: Prng): Promise<TokenKit> {
  const key = await loadOrCreateSigningKey(dataDir);
  const foreignDir = mkdtempSync(join(tmpdir(), "weft-foreign-key-"));
  let foreign: SigningKey;
  try {
    foreign = await loadOrCreateSigningKey(foreignDir);
  } finally {
    rmSync(foreignDir, { recursive: true, force: true });
  }
  const adminClaims = { scope: ["network.admin"], user_name: "admin" };
  const admin = await issueToken(key, { scopes: ["network.admin"], subject: "admin", ttlSeconds: 3600 });
  const write = await issueToken(key, { scopes: ["network.write"], subject: "dev", spaces: ["hostile-space"], ttlSeconds: 3600 });
  const [header, payload, signature] = admin.split(".") as [string, string, string];
  const foreignAdmin = await issueToken(foreign, { scopes: ["network.admin"], subject: "admin", ttlSeconds: 3600 });
  const now = Math.floor(Date.now() / 1000);
  const hs256 = await new SignJWT(adminClaims)
    .setProtectedHeader({ alg: "HS256", kid: key.kid })
    .setIssuer("weft")
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(JSON.stringify(key.publicJwk)));
  const flipped = signature.slice(0, -2) + (signature.at(-2) === "A" ? "B" : "A") + signature.slice(-1);
  const elevated = b64({ ...(JSON.parse(Buffer.from(payload, "base64url").toString()) as object), scope: ["network.admin"], user_name: "root" });

  const unauthorized: [string, string | undefined][] = [
    ["missing Authorization", undefined],
    ["empty Authorization", ""],
    ["Bearer alone", "Bearer"],
    ["Basic credentials", "Basic YWRtaW46YWRtaW4="],
    ["Token scheme", `Token ${admin}`],
    ["garbage", "Bearer garbage"],
    ["three dots", "Bearer ..."],
    ["a.b.c", "Bearer a.b.c"],
    ["payload null", `Bearer ${b64({ alg: "ES256" })}.${b64("null")}.x`],
    ["payload not JSON", `Bearer ${b64({ alg: "ES256" })}.${b64("{")}.x`],
    ["latin-1 bytes", "Bearer \u00ff\u00fe\u00e9"],
    ["15 KB of garbage", `Bearer ${prng.string(15_000, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")}`],
    ...Array.from({ length: 6 }, (_, i): [string, string] => [`random base64url segments ${i}`, `Bearer ${[40, 120, 86].map((n) => prng.string(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")).join(".")}`]),
    ["signature flipped", `Bearer ${header}.${payload}.${flipped}`],
    ["signature stripped", `Bearer ${header}.${payload}.`],
    ["payload elevated", `Bearer ${header}.${elevated}.${signature}`],
    ["alg none", `Bearer ${b64({ alg: "none", typ: "JWT" })}.${payload}.`],
    ["HS256 with the public key as secret", `Bearer ${hs256}`],
    ["foreign signing key", `Bearer ${foreignAdmin}`],
    ["foreign signature under our kid", `Bearer ${header}.${foreignAdmin.split(".")[1]}.${foreignAdmin.split(".")[2]}`],
    ["token plus trailing text", `Bearer ${admin} extra`],
    ["Bearer twice", `Bearer Bearer ${admin}`],
    ["two tokens", `Bearer ${admin}.${admin}`],
    ["expired", `Bearer ${await issueToken(key, { scopes: ["network.admin"], subject: "admin", ttlSeconds: -120 })}`],
    ["not yet valid", `Bearer ${await signed(key, { ...adminClaims, nbf: now + 3600 })}`],
    ["untrusted issuer", `Bearer ${await signed(key, adminClaims, { iss: "https://idp.example.test" })}`],
    ["no issuer", `Bearer ${await signed(key, adminClaims, { iss: "" })}`],
    ["no exp", `Bearer ${await signed(key, adminClaims, { exp: null })}`],
    ["exp as a string", `Bearer ${await signed(key, { ...adminClaims, exp: String(now + 3600) } as unknown as JWTPayload, { exp: null })}`],
  ];
  const forbidden: [string, string][] = [
    ["no scope", await signed(key, { user_name: "nobody" })],
    ["scope is a number", await signed(key, { scope: 7, user_name: "x" })],
    ["scope in upper case", await signed(key, { scope: ["NETWORK.ADMIN"], user_name: "x" })],
    ["scope lookalike", await signed(key, { scope: "network.administrator network.writer", user_name: "x" })],
    ["only openid", await signed(key, { scope: ["openid"], user_name: "x" })],
  ];
  return {
    admin,
    write,
    bad: [
      ...unauthorized.map(([name, authorization]) => ({ name, authorization, expect: [401] })),
      ...forbidden.map(([name, tok]) => ({ name, authorization: `Bearer ${tok}`, expect: [403] })),
    ],
  };
}
