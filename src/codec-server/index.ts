export { type CodecServer, type CodecServerOptions, startCodecServer } from './server';
