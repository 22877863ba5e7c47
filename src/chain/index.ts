/** The CMEK -> store key -> data key chain (formats in docs/key-chain.md). */
export * from './format';
export * from './store-key-object';
export * from './data-key';
export * from './chain';
