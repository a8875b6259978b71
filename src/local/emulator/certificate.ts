import { X509Certificate } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generate } from "selfsigned";

export interface EmulatorCertificate {
  readonly caPem: string;
  /** The CA's private key (PEM), kept in a state file so a restarted emulator signs with the same CA. */
  readonly caKey: string;
  readonly caFile: string;
  readonly key: string;
  readonly cert: string;
}

/** A CA to reuse (from a state file); reused while it is valid for at least another day. */
export interface ExistingCa {
  readonly certPem: string;
  readonly keyPem: string;
}

function usable(ca: ExistingCa | undefined): ca is ExistingCa {
  if (!ca) return false;
  try {
    return new Date(new X509Certificate(ca.certPem).validTo).getTime() > Date.now() + 24 * 3600_000;
  } catch {
    return false;
  }
}

/**
 * A throw-away CA and a server certificate it signs for 127.0.0.1/localhost. Clients trust the CA
 * (`tlsOptions: { ca }`) instead of turning TLS checks off: the Azure SDK refuses to send bearer
 * tokens over plain http, and NODE_TLS_REJECT_UNAUTHORIZED=0 would weaken every other connection.
 * EC keys because RSA generation costs a second of CPU on a small machine.
 */
export async function createCertificate(stateDir: string, existing?: ExistingCa): Promise<EmulatorCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 30 * 24 * 3600_000);
  if (existing && !usable(existing)) {
    console.warn(`[arm-emulator] The CA kept in ${stateDir} has expired (or expires within a day): a new CA is generated; clients must trust the new ${join(stateDir, "arm-emulator-ca.pem")}.`);
  }
  const ca = usable(existing) ? { cert: existing.certPem, private: existing.keyPem } : await generate([{ name: "commonName", value: "aadlogin-enforcer local ARM emulator CA" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
          { type: 7, ip: "::1" },
        ],
      },
    ],
  });
  await mkdir(stateDir, { recursive: true });
  const caFile = join(stateDir, "arm-emulator-ca.pem");
  // A reused CA's file stays as it is (clients that read it keep working, its mtime does not move).
  const onDisk = await readFile(caFile, "utf8").catch(() => undefined);
  if (onDisk !== ca.cert) await writeFile(caFile, ca.cert, "utf8");
  return { caPem: ca.cert, caKey: ca.private, caFile, key: server.private, cert: server.cert };
}
