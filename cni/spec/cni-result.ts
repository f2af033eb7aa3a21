// The ADD result (CNI spec 1.0.0 shape; 0.3.x/0.4.0 add ips[].version): the host and container
// interfaces, the container's /32 with 169.254.0.1 as gateway, the default route, and the DNS
// server with apps.internal as a search domain.
export interface AddResultInput {
  readonly cniVersion: string;
  readonly hostIfname: string;
  readonly hostMac: string;
  readonly ifname: string;
  readonly mac: string;
  readonly netns: string;
  readonly ip: string;
  readonly gateway: string;
  readonly nameservers: readonly string[];
  readonly searchDomains: readonly string[];
}

export function addResult(r: AddResultInput): Record<string, unknown> {
  const legacy = r.cniVersion.startsWith("0.");
  return {
    cniVersion: r.cniVersion,
    interfaces: [
      { name: r.hostIfname, mac: r.hostMac },
      { name: r.ifname, mac: r.mac, sandbox: r.netns },
    ],
    ips: [{ ...(legacy ? { version: "4" } : {}), address: `${r.ip}/32`, gateway: r.gateway, interface: 1 }],
    routes: [{ dst: "0.0.0.0/0", gw: r.gateway }],
    dns: { nameservers: [...r.nameservers], search: [...r.searchDomains] },
  };
}

export function versionResult(cniVersion: string, supported: readonly string[]): Record<string, unknown> {
  return { cniVersion, supportedVersions: [...supported] };
}
