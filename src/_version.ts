// Copyright 2026 the safefs authors. MIT license.
/** The package version; tests/cli_test.ts checks it matches deno.json. */
export const VERSION = "0.1.0";
