// Bearer tokens. Weft signs its own (ES256, key kept in the control data dir and created on first
// use) and can also trust external OIDC issuers through their published JWKS. A token carries
// UAA-style `scope` (network.admin / network.write) and, for non-admins, the space GUIDs its holder
// may act in (`weft_spaces`). Verified tokens are cached until they expire, so the signature check
// is off the per-request hot path.
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  SignJWT,
  calculateJwkThumbprint,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import { WeftError } from "../../common/errors.js";

export const LOCAL_ISSUER = "weft";
export const SCOPES = ["network.admin", "network.write"] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly isAdmin: boolean;
  /** Spaces a non-admin may act in. */
  readonly spaces: readonly string[];
  readonly issuer: string;
}

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
}

const KEY_FILE = "token-signing-key.json";

export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const file = join(dataDir, KEY_FILE);
  let jwk: JWK;
  if (existsSync(file)) {
    jwk = JSON.parse(readFileSync(file, "utf8")) as JWK;
  } else {
    mkdirSync(dataDir, { recursive: true });
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    jwk = await exportJWK(privateKey);
    jwk.kid = await calculateJwkThumbprint(jwk);
    writeFileSync(file, JSON.stringify(jwk), { mode: 0o600, flag: "wx" });
  }
  const { d: _d, ...publicJwk } = jwk;
  const privateKey = (await importJWK(jwk, "ES256")) as CryptoKey;
  const publicKey = (await importJWK(publicJwk, "ES256")) as CryptoKey;
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicJwk));
  return { kid, privateKey, publicKey, publicJwk: { ...publicJwk, alg: "ES256", use: "sig" } };
}

export interface TokenRequest {
  readonly scopes: readonly string[];
  readonly subject: string;
  readonly spaces?: readonly string[];
  /** Lifetime in seconds. */
  readonly ttlSeconds: number;
}

export async function issueToken(key: SigningKey, req: TokenRequest): Promise<string> {
  const jwt = new SignJWT({
    scope: [...req.scopes],
    user_name: req.subject,
    ...(req.spaces && req.spaces.length ? { weft_spaces: [...req.spaces] } : {}),
  })
    .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" })
    .setIssuer(LOCAL_ISSUER)
    .setSubject(req.subject)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + req.ttlSeconds);
  return jwt.sign(key.privateKey);
}

/** Parses durations like 90s, 15m, 1h, 7d (a bare number is seconds). */
export function parseDuration(value: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (!m) throw new WeftError("INVALID_ARGUMENT", `invalid duration ${JSON.stringify(value)}, use e.g. 30m, 1h or 7d`);
  const n = Number(m[1]);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
  if (n <= 0) throw new WeftError("INVALID_ARGUMENT", `duration must be positive: ${value}`);
  return n * unit;
}

function claimScopes(payload: JWTPayload): string[] {
  const scope = payload.scope ?? payload.scp;
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === "string");
  if (typeof scope === "string") return scope.split(/\s+/).filter(Boolean);
  return [];
}

function claimSpaces(payload: JWTPayload): string[] {
  const spaces = payload.weft_spaces;
  return Array.isArray(spaces) ? spaces.filter((s): s is string => typeof s === "string") : [];
}

export interface TokenVerifierOptions {
  readonly localKey: SigningKey;
  /** External OIDC issuers whose JWKS we trust. */
  readonly trustedIssuers?: readonly string[];
  readonly cacheSize?: number;
}

interface TrustedIssuer {
  jwks?: JWTVerifyGetKey;
}

export class TokenVerifier {
  private readonly cache = new Map<string, { principal: Principal; expiresAt: number }>();
  private readonly issuers = new Map<string, TrustedIssuer>();
  private readonly cacheSize: number;

  constructor(private readonly opts: TokenVerifierOptions) {
    this.cacheSize = opts.cacheSize ?? 10_000;
    for (const iss of opts.trustedIssuers ?? []) this.issuers.set(iss.replace(/\/+$/, ""), {});
  }

  /** Returns the principal, or throws UNAUTHENTICATED. */
  async verify(token: string): Promise<Principal> {
    const now = Date.now();
    const hit = this.cache.get(token);
    if (hit && hit.expiresAt > now) return hit.principal;
    if (hit) this.cache.delete(token);
    let payload: JWTPayload;
    try {
      payload = await this.verifySignature(token);
    } catch (err) {
      throw new WeftError("UNAUTHENTICATED", "failed to verify token", { cause: err });
    }
    const scopes = claimScopes(payload);
    const subject =
      (typeof payload.user_name === "string" && payload.user_name) ||
      (typeof payload.sub === "string" && payload.sub) ||
      (typeof payload.client_id === "string" && payload.client_id) ||
      "unknown";
    const principal: Principal = {
      subject,
      scopes,
      isAdmin: scopes.includes("network.admin"),
      spaces: claimSpaces(payload),
      issuer: payload.iss ?? "",
    };
    const expiresAt = (payload.exp ?? 0) * 1000;
    if (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(token, { principal, expiresAt });
    return principal;
  }

  private async verifySignature(token: string): Promise<JWTPayload> {
    const [, body] = token.split(".");
    let iss: unknown;
    try {
      iss = (JSON.parse(Buffer.from(body ?? "", "base64url").toString("utf8")) as JWTPayload).iss;
    } catch {
      throw new Error("malformed token");
    }
    if (iss === LOCAL_ISSUER) {
      const { payload } = await jwtVerify(token, this.opts.localKey.publicKey, {
        issuer: LOCAL_ISSUER,
        algorithms: ["ES256"],
        requiredClaims: ["exp"],
      });
      return payload;
    }
    const trusted = typeof iss === "string" ? this.issuers.get(iss.replace(/\/+$/, "")) : undefined;
    if (!trusted || typeof iss !== "string") throw new Error("untrusted issuer");
    trusted.jwks ??= createRemoteJWKSet(await discoverJwksUri(iss), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    const { payload } = await jwtVerify(token, trusted.jwks, { issuer: iss, requiredClaims: ["exp"] });
    return payload;
  }
}

async function discoverJwksUri(issuer: string): Promise<URL> {
  const base = issuer.replace(/\/+$/, "");
  try {
    const res = await fetch(`${base}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
    if (res.ok) {
      const doc = (await res.json()) as { jwks_uri?: unknown };
      if (typeof doc.jwks_uri === "string") return new URL(doc.jwks_uri);
    }
  } catch {
    // fall through to the conventional location
  }
  return new URL(`${base}/.well-known/jwks.json`);
}
