// Shared pieces of the policy API conformance and concurrency suites: one control plane per store
// kind for a describe block, CF policy body builders, and small API wrappers that assert success.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect } from "vitest";
import { startTestControl, type HttpResult, type TestControl } from "./control.js";
import type { StoreKind } from "./db.js";

export const V1 = "/networking/v1/external";
export const V0 = "/networking/v0/external";

export interface PolicyV1 {
  source: { id: string };
  destination: { id: string; protocol: string; ports: { start: number; end: number } };
}

export interface PolicyV0 {
  source: { id: string };
  destination: { id: string; protocol: string; port: number };
}

export interface PolicyList<P> {
  total_policies: number;
  policies: P[];
}

export interface TagJson {
  id: string;
  tag: string;
  type: string;
}

/** Starts a control plane over a fresh store of this kind for the enclosing describe block. */
export function useControl(kind: StoreKind): () => TestControl {
  let tc: TestControl | undefined;
  beforeAll(async () => {
    tc = await startTestControl(kind);
  });
  afterAll(async () => {
    await tc?.stop();
  });
  return () => {
    if (!tc) throw new Error("control plane not started");
    return tc;
  };
}

/** A fresh app GUID-like id, so tests sharing one store do not see each other's policies. */
export function uid(prefix = "app"): string {
  return `${prefix}-${randomUUID().slice(0, 13)}`;
}

export function pol(source: string, dest: string, protocol = "tcp", start = 8080, end = start): PolicyV1 {
  return { source: { id: source }, destination: { id: dest, protocol, ports: { start, end } } };
}

export function polV0(source: string, dest: string, protocol = "tcp", port = 8080): PolicyV0 {
  return { source: { id: source }, destination: { id: dest, protocol, port } };
}

/** A stable string for a v1 policy, for set comparisons. */
export function keyOf(p: PolicyV1): string {
  return `${p.source.id}>${p.destination.id}/${p.destination.protocol}:${p.destination.ports.start}-${p.destination.ports.end}`;
}

export function keys(ps: readonly PolicyV1[]): string[] {
  return [...new Set(ps.map(keyOf))].sort();
}

interface CallOpts {
  token?: string | null;
  base?: string;
}

export function create(tc: TestControl, policies: readonly unknown[], opts: CallOpts = {}): Promise<HttpResult> {
  return tc.request("POST", `${opts.base ?? V1}/policies`, { body: { policies }, ...tokenOpt(opts) });
}

export function remove(tc: TestControl, policies: readonly unknown[], opts: CallOpts = {}): Promise<HttpResult> {
  return tc.request("POST", `${opts.base ?? V1}/policies/delete`, { body: { policies }, ...tokenOpt(opts) });
}

function tokenOpt(opts: CallOpts): { token?: string | null } {
  return opts.token === undefined ? {} : { token: opts.token };
}

export async function createOk(tc: TestControl, policies: readonly unknown[], opts: CallOpts = {}): Promise<HttpResult> {
  const res = await create(tc, policies, opts);
  expect(res.status, res.text).toBe(200);
  expect(res.json).toEqual({});
  return res;
}

export async function removeOk(tc: TestControl, policies: readonly unknown[], opts: CallOpts = {}): Promise<HttpResult> {
  const res = await remove(tc, policies, opts);
  expect(res.status, res.text).toBe(200);
  expect(res.json).toEqual({});
  return res;
}

export async function list<P = PolicyV1>(tc: TestControl, query = "", opts: CallOpts = {}): Promise<PolicyList<P>> {
  const res = await tc.request("GET", `${opts.base ?? V1}/policies${query}`, tokenOpt(opts));
  expect(res.status, res.text).toBe(200);
  const body = res.json as PolicyList<P>;
  expect(body.total_policies).toBe(body.policies.length);
  return body;
}

export async function listKeys(tc: TestControl, query = "", opts: CallOpts = {}): Promise<string[]> {
  return keys((await list<PolicyV1>(tc, query, opts)).policies);
}

export async function tags(tc: TestControl): Promise<TagJson[]> {
  const res = await tc.request("GET", `${V1}/tags`);
  expect(res.status, res.text).toBe(200);
  return (res.json as { tags: TagJson[] }).tags;
}

export async function putApp(tc: TestControl, guid: string, space: string, name = guid): Promise<HttpResult> {
  const res = await tc.request("PUT", `/weft/v1/apps/${guid}`, { body: { name, space_guid: space, org_guid: "org-1" } });
  expect([200, 201], res.text).toContain(res.status);
  return res;
}

/** Removes every app and policy through the API, so a test can reason about tags from scratch. */
export async function resetStore(tc: TestControl): Promise<void> {
  const apps = await tc.request("GET", "/weft/v1/apps");
  expect(apps.status, apps.text).toBe(200);
  for (const a of (apps.json as { apps: { guid: string }[] }).apps) {
    const del = await tc.request("DELETE", `/weft/v1/apps/${a.guid}`);
    expect(del.status, del.text).toBe(200);
  }
  const cleanup = await tc.request("POST", `${V1}/policies/cleanup`);
  expect(cleanup.status, cleanup.text).toBe(200);
  expect((await list(tc)).total_policies).toBe(0);
  expect(await tags(tc)).toEqual([]);
}

export function revisionOf(res: HttpResult): number | undefined {
  const v = res.headers["x-weft-revision"];
  return typeof v === "string" ? Number(v) : undefined;
}

export function errorOf(res: HttpResult): string | undefined {
  return (res.json as { error?: string } | undefined)?.error;
}
