/** Test certificates, generated with openssl at test time: see scripts/pki.ts. */
export { createTestPki, type CertPair, type TestPki } from '../../scripts/pki.ts';
