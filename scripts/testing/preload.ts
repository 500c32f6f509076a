// Loaded by `bun test` before any test file (bunfig.toml): the suite's shared settings.
// Tests log at "silent" unless asked, so failures are readable; set CADDIS_TEST_LOG=debug to see.
process.env.CADDIS_TEST_LOG ??= "silent";
