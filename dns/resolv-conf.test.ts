import { describe, expect, it } from "vitest";
import { parseResolvConf, withoutSelf } from "./resolv-conf.js";

describe("resolv.conf upstreams", () => {
  it("reads nameserver lines (IPv4, IPv6, with a zone) and ignores the rest", () => {
    const text = "# generated\nsearch apps.internal\nnameserver 10.0.0.2\n  nameserver fe80::1%eth0\nnameserver not-an-ip\noptions ndots:5\nnameserver 127.0.0.53 # stub\n";
    expect(parseResolvConf(text)).toEqual([
      { host: "10.0.0.2", port: 53 },
      { host: "fe80::1", port: 53 },
      { host: "127.0.0.53", port: 53 },
    ]);
  });

  it("leaves out our own listen address, which would loop", () => {
    const ups = parseResolvConf("nameserver 169.254.0.2\nnameserver 10.0.0.2\n");
    expect(withoutSelf(ups, { host: "169.254.0.2", port: 53 })).toEqual([{ host: "10.0.0.2", port: 53 }]);
  });
});
