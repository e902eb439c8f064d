// The engine's base modules, re-exported: DuoSupport (DuoError, InputFile, TerminalSafe, ExactJSON) and
// DuoTokenizer (Tokenizer) were split out of DuoEngine so that the tokenizer is a module of its own;
// re-exporting them keeps every `import DuoEngine` (in this module's files too) seeing what it saw before.
// The fuzz build (Makefile fuzz-build) compiles all three as one module, where they cannot be imported.
#if canImport(DuoSupport)
    @_exported import DuoSupport
#endif
#if canImport(DuoTokenizer)
    @_exported import DuoTokenizer
#endif
