// The seeded, valid state the hostile-input suite protects: apps in a few spaces and policies
// between them (single ports and ranges, tcp and udp), generated from the run's PRNG. Seeded
// ports are 1000-9999, so a policy on a port from 20000 up is guaranteed not to exist yet.
import type { PolicySpec } from "./hostile-bodies.js";
import type { Prng } from "./prng.js";

export interface SeedApp {
  readonly guid: string;
  readonly name: string;
  readonly space: string;
  readonly org: string;
}

export interface World {
  readonly apps: readonly SeedApp[];
  readonly policies: readonly PolicySpec[];
}

export function makeWorld(prng: Prng, appCount = 40, policyCount = 120): World {
  const apps = Array.from({ length: appCount }, (_, i) => ({
    guid: `seed-app-${i}-${prng.string(6)}`,
    name: `seed-name-${i % 7}`,
    space: `seed-space-${i % 4}`,
    org: "seed-org",
  }));
  const seen = new Set<string>();
  const policies: PolicySpec[] = [];
  while (policies.length < policyCount) {
    const start = prng.range(1000, 9999);
    const end = prng.chance(0.6) ? start : Math.min(9999, start + prng.range(1, 500));
    const p: PolicySpec = { source: prng.pick(apps).guid, destination: prng.pick(apps).guid, protocol: prng.pick(["tcp", "udp"] as const), start, end };
    const key = JSON.stringify(p);
    if (seen.has(key)) continue;
    seen.add(key);
    policies.push(p);
  }
  return { apps, policies };
}

/** A valid policy between seeded apps that is not in the store. */
export function newPolicy(world: World, prng: Prng, single = false): PolicySpec {
  const start = prng.range(20_000, 29_999);
  return {
    source: prng.pick(world.apps).guid,
    destination: prng.pick(world.apps).guid,
    protocol: prng.pick(["tcp", "udp"] as const),
    start,
    end: single ? start : start + prng.range(0, 100),
  };
}

/** A seeded policy; single-port ones only when the body is v0. */
export function seededPolicy(world: World, prng: Prng, single = false): PolicySpec {
  const candidates = single ? world.policies.filter((p) => p.start === p.end) : world.policies;
  return prng.pick(candidates);
}
