// How a dump source may be named: storage.conf's [name] headers, and node.conf's receive_ignore names them too.

const SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const SOURCE_NAME_RULE = 'letters, digits, ".", "_", "-"; not starting with a symbol';

export function isValidSourceName(name: string): boolean {
  return SOURCE_NAME.test(name);
}
