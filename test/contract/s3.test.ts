// The driver contract on the S3 driver, over a fresh s3rver (127.0.0.1, temp directory) per test.
import { s3DriverFactory } from '../helpers/s3rver.js';
import { describeDriverContract } from './driver.contract.js';

describeDriverContract(s3DriverFactory);
