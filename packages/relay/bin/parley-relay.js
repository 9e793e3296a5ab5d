#!/usr/bin/env node
// The installed `parley-relay` command. It is a committed file (not dist/cli.js itself) so that a workspace
// install can link it before the package is built.
import "../dist/cli.js";
