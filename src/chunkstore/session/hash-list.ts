// 32-byte hashes kept back to back in pages: a session may remember hundreds of thousands of them,
// and a Buffer object apiece would cost four times their bytes.
const HASH_SIZE = 32;
const HASHES_PER_PAGE = 2048;

export class HashList {
  private readonly pages: Buffer[] = [];
  private used = HASHES_PER_PAGE;

  add(hash: Buffer): void {
    if (this.used === HASHES_PER_PAGE) {
      this.pages.push(Buffer.allocUnsafe(HASHES_PER_PAGE * HASH_SIZE));
      this.used = 0;
    }
    hash.copy(this.pages[this.pages.length - 1], this.used * HASH_SIZE, 0, HASH_SIZE);
    this.used++;
  }

  *[Symbol.iterator](): Iterator<Buffer> {
    for (let page = 0; page < this.pages.length; page++) {
      const count = page === this.pages.length - 1 ? this.used : HASHES_PER_PAGE;
      for (let index = 0; index < count; index++) yield this.pages[page].subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
    }
  }
}
