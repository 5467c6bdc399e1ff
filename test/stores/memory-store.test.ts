import { MemorySessionStore } from '../../src/stores/memory-store';
import { describeSessionStoreContract } from './store-contract';
import { describeTranscriptContract } from './transcript-contract';

const open = async () => ({ store: new MemorySessionStore(), cleanup: async () => {} });
describeSessionStoreContract('memory', open);
describeTranscriptContract('memory', open);
