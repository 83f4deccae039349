// Validate AsyncAPI documents with the AsyncAPI parser: the specification's JSON Schema,
// its rules (recommended ones included), every $ref resolved, and each message example
// checked against its payload and headers schemas. Prints every diagnostic; exits 1 when
// any is an error or a warning, 2 when a document cannot be read.
//
//   node validate.js ../../contracts/asyncapi.yaml
'use strict';

const fs = require('fs');
const path = require('path');
const { Parser, fromFile, DiagnosticSeverity } = require('@asyncapi/parser');

const SEVERITY = { 0: 'error', 1: 'warning', 2: 'info', 3: 'hint' };
const parserVersion = require('@asyncapi/parser/package.json').version;

function where(diagnostic) {
  const line = diagnostic.range ? diagnostic.range.start.line + 1 : '?';
  return `${line}:${diagnostic.path.join('.') || '(document)'}`;
}

async function validate(file) {
  if (!fs.existsSync(file)) {
    console.error(`${file}: no such file`);
    return 2;
  }
  const { document, diagnostics } = await fromFile(new Parser(), path.resolve(file)).parse();
  let failing = 0;
  for (const diagnostic of diagnostics) {
    const severity = SEVERITY[diagnostic.severity] || String(diagnostic.severity);
    console.log(`${file}:${where(diagnostic)}: ${severity}: ${diagnostic.message} (${diagnostic.code})`);
    if (diagnostic.severity <= DiagnosticSeverity.Warning) failing += 1;
  }
  if (document === undefined || failing > 0) {
    console.log(`${file}: INVALID (${failing} errors and warnings, @asyncapi/parser ${parserVersion})`);
    return 1;
  }
  console.log(`${file}: valid AsyncAPI ${document.version()} (@asyncapi/parser ${parserVersion}): `
    + `${document.channels().length} channels, ${document.operations().length} operations, `
    + `${document.messages().length} messages`);
  return 0;
}

async function main(files) {
  if (files.length === 0) {
    console.error('usage: node validate.js DOCUMENT...');
    return 2;
  }
  let status = 0;
  for (const file of files) status = Math.max(status, await validate(file));
  return status;
}

main(process.argv.slice(2)).then((status) => { process.exitCode = status; }, (error) => {
  console.error(error);
  process.exitCode = 2;
});
