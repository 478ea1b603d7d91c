/** Throwaway certificates for the deploy tests' TLS setups: one CA and leaf certificates it signs (P-256, 1 day). */
import { run } from "./host.ts";

/** One leaf certificate: written as `<name>.pem` and `<name>-key.pem`. */
export interface LeafCertificate {
  name: string;
  /** Common name, e.g. "n1.nats.internal". */
  commonName: string;
  /** subjectAltName value, e.g. "DNS:localhost,IP:127.0.0.1". */
  san: string;
  /** extendedKeyUsage value, e.g. "serverAuth" or "serverAuth,clientAuth". */
  usage: string;
}

/** Writes `ca.pem`/`ca-key.pem` and each leaf's `<name>.pem`/`<name>-key.pem` into `dir` (needs openssl). */
export async function makeCertificates(dir: string, leaves: readonly LeafCertificate[]): Promise<void> {
  const ssl = (args: string[]) => run("openssl", args, { cwd: dir });
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await ssl(["req", "-x509", ...key, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1", "-subj", "/CN=coop CA"]);
  for (const { name, commonName, san, usage } of leaves) {
    await ssl(["req", ...key, "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${commonName}`]);
    await Deno.writeTextFile(`${dir}/${name}.ext`, `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
    const sign = ["-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "1", "-extfile", `${name}.ext`];
    await ssl(["x509", "-req", "-in", `${name}.csr`, ...sign, "-out", `${name}.pem`]);
  }
}
