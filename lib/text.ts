/** Words for people: `plural(1, 'record')` is "1 record", `plural(2, 'record')` "2 records". */
export function plural(n: number, one: string, many = one + 's', format: (n: number) => string = String): string {
  return `${format(n)} ${n === 1 ? one : many}`
}
