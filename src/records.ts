// Shared by every stage: records keyed by user names (tensors, sizes, scalars, consts). The language lets a name be
// `__proto__`, `constructor` or `toString`, so a record is read through its own properties only and written with
// data properties: `record[name]` would find Object.prototype's members, and `record.__proto__ = v` sets a prototype.

/** The own property `name` of a record, or undefined: never a member that every object inherits. */
export const own = <T>(record: Readonly<Record<string, T>>, name: string): T | undefined =>
  Object.hasOwn(record, name) ? record[name] : undefined;

/** Whether a record has an own property `name`. */
export const hasOwn = (record: object, name: string): boolean => Object.hasOwn(record, name);

/**
 * A plain object with an own, enumerable property for each entry, `__proto__` included (Object.fromEntries defines
 * properties, as spreading does): what users get back, to destructure, spread, print or JSON.stringify.
 */
export const recordOf = <T>(entries: Iterable<readonly [string, T]>): Record<string, T> => Object.fromEntries(entries) as Record<string, T>;

/** Sets `record[name]` as an own data property, whatever the name. */
export function setOwn<T>(record: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(record, name, { value, enumerable: true, writable: true, configurable: true });
}
