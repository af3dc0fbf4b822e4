#!/usr/bin/env node
// The library ships the command (its bin/mandate.js, which runs the bundled CLI from its code
// cache); this package only adds the CLI's own dependencies, which the library declares as
// optional peers so that verifiers stay light. bin/mandate.js is not an export of the library,
// so it is found beside the library's package.json. CommonJS, as bin/mandate.js: an ES module
// here would start Node's ES-module loader for nothing.
'use strict'
const { dirname, join } = require('node:path')

require(join(dirname(require.resolve('mandate/package.json')), 'bin/mandate.js')).start()
