import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generate } from "selfsigned";

export interface EmulatorCertificate {
  readonly caPem: string;
  readonly caFile: string;
  readonly key: string;
  readonly cert: string;
}

/**
 * A throw-away CA and a server certificate it signs for 127.0.0.1/localhost. Clients trust the CA
 * (`tlsOptions: { ca }`) instead of turning TLS checks off: the Azure SDK refuses to send bearer
 * tokens over plain http, and NODE_TLS_REJECT_UNAUTHORIZED=0 would weaken every other connection.
 * EC keys because RSA generation costs a second of CPU on a small machine.
 */
export async function createCertificate(stateDir: string): Promise<EmulatorCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 30 * 24 * 3600_000);
  const ca = await generate([{ name: "commonName", value: "aadlogin-enforcer local ARM emulator CA" }], {
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
  await writeFile(caFile, ca.cert, "utf8");
  return { caPem: ca.cert, caFile, key: server.private, cert: server.cert };
}
