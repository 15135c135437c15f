/**
 * The code every sandbox context evaluates first, before any untrusted code: it captures the
 * built-ins it needs before untrusted code can replace them, defines `console`, `save` and
 * `answer` around the host functions (kept in its closure, never globals), and hands the host
 * the helpers it calls.
 *
 * @internal
 */

/**
 * What `hostSave` answers: the value was recorded, or one of the per-call bounds would be passed
 * (then nothing is recorded, and `save` throws a `RangeError` that names the bound).
 */
/** The save was recorded. */
export const SAVE_OK = 0
/** The save would pass `maxSaves`. */
export const SAVE_TOO_MANY = 1
/** The save would pass `maxSaveBytes`. */
export const SAVE_TOO_LARGE = 2

/**
 * Evaluated first in every context, then called with the host functions and the call's limits
 * (`hostPrint, hostSave, hostAnswer, maxLineChars, maxSaves, maxSaveBytes`); returns the helpers
 * the host calls: `[setup, toJson, describe]`.
 */
export const BOOTSTRAP = String.raw`(function (hostPrint, hostSave, hostAnswer, maxLineChars, maxSaves, maxSaveBytes) {
  "use strict";
  var G = globalThis;
  var stringify = JSON.stringify, parse = JSON.parse, toStr = String, toNumber = Number;
  var defineProperty = Object.defineProperty, keys = Object.keys;
  var fromEntries = Object.fromEntries, arrayFrom = Array.from;
  var MapCtor = Map, SetCtor = Set, ErrorCtor = Error, TypeErrorCtor = TypeError, RangeErrorCtor = RangeError;
  var MAX_SAFE = BigInt("9007199254740991"), MIN_SAFE = -MAX_SAFE;
  var IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  var outputOpen = true;

  function replacer(key, value) {
    if (typeof value === "bigint") return value >= MIN_SAFE && value <= MAX_SAFE ? toNumber(value) : toStr(value);
    if (typeof value === "object" && value !== null) {
      if (value instanceof MapCtor) return fromEntries(value);
      if (value instanceof SetCtor) return arrayFrom(value);
    }
    return value;
  }
  function toJson(value) { return stringify(value, replacer); }
  function errorText(error) {
    var text = toStr(error.name) + ": " + toStr(error.message);
    var stack = error.stack;
    return typeof stack === "string" && stack.length > 0 ? text + "\n" + stack.replace(/\n+$/, "") : text;
  }
  function format(value) {
    switch (typeof value) {
      case "string": return value;
      case "undefined": return "undefined";
      case "function": return "[Function: " + (value.name || "(anonymous)") + "]";
      case "bigint": return toStr(value) + "n";
      case "number": case "boolean": case "symbol": return toStr(value);
    }
    if (value === null) return "null";
    try {
      if (value instanceof ErrorCtor) return errorText(value);
      var json = toJson(value);
      return json === undefined ? toStr(value) : json;
    } catch (error) {
      try { return "[unprintable: " + toStr(error && error.message) + "]"; } catch (_) { return "[unprintable]"; }
    }
  }
  function print(args) {
    if (!outputOpen) return;
    var line = "";
    for (var i = 0; i < args.length; i++) {
      if (i > 0) line += " ";
      line += format(args[i]);
      if (line.length > maxLineChars) { line = line.slice(0, maxLineChars); break; }
    }
    outputOpen = hostPrint(line) === true;
  }
  function log() { print(arguments); }
  var consoleObject = { log: log, info: log, warn: log, error: log, debug: log, dir: log, table: log };

  function save(name, value) {
    if (typeof name !== "string" || !IDENTIFIER.test(name)) {
      throw new TypeErrorCtor("save(name, value): name must be a valid JavaScript identifier (letters, digits, _ or $, not starting with a digit), got " + format(name));
    }
    var json;
    try { json = toJson(value); } catch (error) {
      throw new TypeErrorCtor("save(name, value): value cannot be converted to JSON: " + toStr(error && error.message));
    }
    if (json === undefined) {
      throw new TypeErrorCtor("save(name, value): value must be JSON-like data (object, array, string, number, boolean or null), got " + typeof value);
    }
    var verdict = hostSave(name, json);
    if (verdict === ${SAVE_TOO_MANY}) {
      throw new RangeErrorCtor("save(name, value): one call may save at most " + maxSaves + " handles, and this save would be one more; nothing this call saves is kept. Save fewer, larger values: collect the items in one array or object and save that once.");
    }
    if (verdict === ${SAVE_TOO_LARGE}) {
      throw new RangeErrorCtor("save(name, value): the values one call saves may add up to at most " + maxSaveBytes + " bytes of JSON, and this save would pass that; nothing this call saves is kept. Save a summary of the data instead of the data.");
    }
    return name;
  }
  function answer(value) {
    var json;
    try { json = toJson(value); } catch (error) {
      throw new TypeErrorCtor("answer(value): value cannot be converted to JSON: " + toStr(error && error.message));
    }
    hostAnswer(json);
  }

  function define(name, value, enumerable) {
    defineProperty(G, name, { value: value, writable: true, configurable: true, enumerable: enumerable });
  }
  function setup(json) {
    if (typeof json === "string") {
      var data = parse(json), names = keys(data);
      for (var i = 0; i < names.length; i++) define(names[i], data[names[i]], true);
    }
    define("console", consoleObject, false);
    define("save", save, false);
    define("answer", answer, false);
  }
  function describe(thrown) {
    try {
      if (typeof thrown === "object" && thrown !== null && (thrown instanceof ErrorCtor || "message" in thrown)) {
        var stack = thrown.stack;
        return stringify({ name: toStr(thrown.name), message: toStr(thrown.message), stack: typeof stack === "string" ? stack : "", isError: true, isNull: false });
      }
      return stringify({ name: "", message: format(thrown), stack: "", isError: false, isNull: thrown === null });
    } catch (_) {
      return stringify({ name: "", message: "(a thrown value that could not be read)", stack: "", isError: false, isNull: false });
    }
  }
  return [setup, toJson, describe];
})`
