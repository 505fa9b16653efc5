// The driver contract on the filesystem driver, over a fresh temp directory per test.
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { describeDriverContract } from './driver.contract.js';

describeDriverContract(filesystemDriverFactory);
