// Compiles talkrelay's schemas with ajv in strict mode (Draft 2020-12, formats
// asserted) and validates every example under schemas/examples against them.
// Exits non-zero on the first schema that does not compile or example that
// does not validate. Run: npm ci && node check-schemas.mjs
import fs from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const dir = new URL("../../schemas/", import.meta.url);
const read = (name) => JSON.parse(fs.readFileSync(new URL(name, dir), "utf8"));

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
// Every schema in schemas/; an example is checked against the schema whose
// name starts its file name (cancel-reply.json: cancel-reply), else job.
const validators = {};
const kinds = fs.readdirSync(dir).filter((n) => n.endsWith(".v1.schema.json")).map((n) => n.slice(0, -".v1.schema.json".length));
for (const kind of kinds) {
  try {
    validators[kind] = ajv.compile(read(`${kind}.v1.schema.json`));
  } catch (err) {
    console.error(`${kind}.v1.schema.json does not compile under ajv strict mode: ${err.message}`);
    process.exit(1);
  }
}

let checked = 0;
for (const name of fs.readdirSync(new URL("examples/", dir)).sort()) {
  const base = name.slice(0, -".json".length);
  const kind = kinds.filter((k) => base === k || base.startsWith(`${k}-`)).sort((a, b) => b.length - a.length)[0] ?? "job";
  const validate = validators[kind];
  if (!validate(read(`examples/${name}`))) {
    console.error(`examples/${name} breaks ${kind}.v1.schema.json: ${ajv.errorsText(validate.errors)}`);
    process.exit(1);
  }
  checked++;
}
console.log(`ok: the schemas compile in ajv strict mode; ${checked} examples validate`);
