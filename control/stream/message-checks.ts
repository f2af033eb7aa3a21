// Validation of what cells send, at the gRPC edge: every field a handler uses is checked for type,
// size and range, and a failure is one INVALID_ARGUMENT naming the field.
import ipaddr from "ipaddr.js";
import { WeftError } from "../../common/errors.js";

export const MAX_PORTS = 64;
const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$/;

function bad(field: string, why: string): WeftError {
  return new WeftError("INVALID_ARGUMENT", `invalid ${field}: ${why}`);
}

export function checkId(field: string, v: unknown): string {
  if (typeof v !== "string" || v === "") throw bad(field, "required");
  if (!ID.test(v)) throw bad(field, "must be 1-255 characters of letters, digits and . _ : @ -");
  return v;
}

export function checkIPv4(field: string, v: unknown): string {
  if (typeof v !== "string" || !ipaddr.IPv4.isValidFourPartDecimal(v)) throw bad(field, `not an IPv4 address: ${JSON.stringify(String(v).slice(0, 64))}`);
  return v;
}

export function checkPem(field: string, v: unknown, maxBytes = 16_384): string {
  if (typeof v !== "string" || v === "") throw bad(field, "required");
  if (v.length > maxBytes) throw bad(field, `larger than ${maxBytes} bytes`);
  return v;
}

export function checkPorts(field: string, v: unknown): number[] {
  if (!Array.isArray(v)) throw bad(field, "must be a list");
  if (v.length > MAX_PORTS) throw bad(field, `at most ${MAX_PORTS} ports`);
  return v.map((p, i) => {
    if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 65535) throw bad(`${field}[${i}]`, "must be 1-65535");
    return p;
  });
}

export function checkIndex(field: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 1_000_000) throw bad(field, "must be a non-negative integer");
  return v;
}

export function checkLifecycle(v: unknown): "running" | "staging" | "task" {
  if (v === "" || v === undefined) return "running";
  if (v === "running" || v === "staging" || v === "task") return v;
  throw bad("lifecycle", "must be running, staging or task");
}

export function ipInSubnet(ip: string, subnet: string): boolean {
  try {
    return ipaddr.IPv4.parse(ip).match(ipaddr.IPv4.parseCIDR(subnet));
  } catch {
    return false;
  }
}
