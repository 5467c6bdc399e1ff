import { MemorySessionStore } from '../../src/stores/memory-store';
import { describeSessionStoreContract } from './store-contract';

describeSessionStoreContract('memory', async () => ({
  store: new MemorySessionStore(),
  cleanup: async () => {},
}));
