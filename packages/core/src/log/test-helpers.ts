/**
 * Fake secrets in every shape the log redaction must catch, shared by the redaction, error
 * sanitizer and logger tests. None is a live credential: each says so in its text.
 */

export const fakeFlxblKey = "flxbl_TESTtest_notarealkeyForRedactionTests";
/** AWS's documented example access key id. */
export const fakeAccessKeyId = "AKIAIOSFODNN7EXAMPLE";

/** One secret inside the text a log line or error message might carry it in. */
export interface SecretShape {
  shape: string;
  text: string;
  /** Substrings that must not survive redaction. */
  secrets: string[];
}

/** Query-string parameters whose values are secrets, each with its own fake value. */
export const secretQueryParameters = [
  "api_key",
  "apikey",
  "key",
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "client_secret",
  "secret",
  "password",
  "signature",
  "sig",
  "X-Amz-Signature",
  "X-Amz-Credential",
  "X-Amz-Security-Token",
];

const queryShapes: SecretShape[] = secretQueryParameters.map((parameter, i) => ({
  shape: `the query parameter ${parameter}`,
  text: `GET https://api.example.com/orders?page=2&${parameter}=notarealquery${i}value&sort=asc`,
  secrets: [`notarealquery${i}value`],
}));

/** Secret-named pairs in free text: `name=value`, `name: value`, quoted values. */
const pairShapes: SecretShape[] = [
  { shape: "password=", text: "login failed: password=notarealhunter2", secret: "notarealhunter2" },
  { shape: "client_secret: ", text: "config client_secret: notarealclient, retrying", secret: "notarealclient" },
  { shape: "api-key=", text: "calling with api-key=notarealapikeypair", secret: "notarealapikeypair" },
  { shape: "x-api-key: ", text: "x-api-key: notarealxapikey", secret: "notarealxapikey" },
  { shape: "AWS_SECRET_ACCESS_KEY=", text: "AWS_SECRET_ACCESS_KEY=notarealawssecret", secret: "notarealawssecret" },
  { shape: "token='...'", text: "token='notarealquotedtoken'", secret: "notarealquotedtoken" },
  { shape: 'secret="..." with spaces', text: 'secret="not a real spaced secret"', secret: "not a real spaced secret" },
  { shape: "privateKey = ", text: "privateKey = notarealprivatekey", secret: "notarealprivatekey" },
].map(({ shape, text, secret }) => ({ shape: `the pair ${shape}`, text, secrets: [secret] }));

export const secretShapes: SecretShape[] = [
  { shape: "a FLXBL key", text: `using ${fakeFlxblKey} now`, secrets: [fakeFlxblKey] },
  {
    shape: "a Standard Webhooks secret",
    text: "secret whsec_bm90YXJlYWxzaWduaW5nc2VjcmV0Zm9ydGVzdHM=",
    secrets: ["bm90YXJlYWxzaWduaW5nc2VjcmV0Zm9ydGVzdHM="],
  },
  { shape: "a Stripe secret key", text: "stripe sk_test_notARealStripeKey123", secrets: ["notARealStripeKey123"] },
  { shape: "a Stripe restricted key", text: "stripe rk_test_notARealRestricted9", secrets: ["notARealRestricted9"] },
  {
    shape: "a bearer token",
    text: "Authorization: Bearer eyJub3QiOiJyZWFsIn0.e30.notasignature",
    secrets: ["eyJub3QiOiJyZWFsIn0.e30.notasignature"],
  },
  {
    shape: "Basic credentials",
    text: "Authorization: Basic dGVzdHVzZXI6bm90YXJlYWxwYXNzd29yZA==",
    secrets: ["dGVzdHVzZXI6bm90YXJlYWxwYXNzd29yZA=="],
  },
  {
    shape: "Basic credentials without a header name",
    text: "retrying with basic dGVzdHVzZXI6bm90YXJlYWxwYXNzd29yZA== in 5s",
    secrets: ["dGVzdHVzZXI6bm90YXJlYWxwYXNzd29yZA=="],
  },
  { shape: "a Stripe signature", text: `t=1700000000,v1=${"a1".repeat(32)}`, secrets: ["a1".repeat(32)] },
  {
    shape: "a Standard Webhooks signature",
    text: "v1,bm90YXJlYWxzaWduYXR1cmVmb3J0ZXN0cw==",
    secrets: ["bm90YXJlYWxzaWduYXR1cmVmb3J0ZXN0cw=="],
  },
  { shape: "an AWS access key id", text: `key ${fakeAccessKeyId} denied`, secrets: [fakeAccessKeyId] },
  { shape: "an AWS temporary access key id", text: "ASIAEXAMPLE0NOTREAL1 expired", secrets: ["ASIAEXAMPLE0NOTREAL1"] },
  {
    shape: "a password in a URL",
    text: "connecting to https://admin:notarealurlpassword@db.example.com:5432/app",
    secrets: ["notarealurlpassword", "admin:"],
  },
  {
    shape: "a query parameter after ;",
    text: "GET /download;token=notarealmatrixtoken",
    secrets: ["notarealmatrixtoken"],
  },
  {
    shape: "a query parameter in upper case",
    text: "GET /download?TOKEN=notarealuppertoken#top",
    secrets: ["notarealuppertoken"],
  },
  ...queryShapes,
  ...pairShapes,
  {
    shape: "a cookie header, every cookie of it",
    text: "Cookie: session=notarealsessioncookie; csrf=notarealcsrfcookie",
    secrets: ["notarealsessioncookie", "notarealcsrfcookie"],
  },
  {
    shape: "JSON embedded in a string",
    text: '{"apiKey":"notarealjsonapikey","x":1}',
    secrets: ["notarealjsonapikey"],
  },
  {
    shape: "JSON quoted in an error message",
    text: 'FLXBL answered 400: {"error":"bad","client_secret":"notarealjsonsecret"} (request 7)',
    secrets: ["notarealjsonsecret"],
  },
  {
    shape: "an object under a secret name in embedded JSON",
    text: '{"credentials":{"user":"bob","pass":"notarealnestedpass"}}',
    secrets: ["notarealnestedpass"],
  },
  {
    shape: "an object under a secret name in text holding two JSON documents",
    text: 'sent {"a":1} got {"session":{"id":"notarealsessionobject"},"b":2}',
    secrets: ["notarealsessionobject"],
  },
  {
    shape: "an object under a secret name as util.inspect prints it",
    text: "options { user: 'bob', credentials: { pass: 'notarealinspectpass' } }",
    secrets: ["notarealinspectpass"],
  },
  {
    shape: "JSON escaped inside JSON",
    text: String.raw`body "{\"apiKey\":\"notarealescapedkey\",\"x\":1}"`,
    secrets: ["notarealescapedkey"],
  },
  {
    shape: "a header list embedded as a JSON array",
    text: '["Host","api.example.com","X-Api-Key","notarealarraykey"]',
    secrets: ["notarealarraykey"],
  },
];
