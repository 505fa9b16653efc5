// The driver contract on a driver seen from below a prefix (storage/drivers/subtree.ts), as a
// registry:2 tree is served: the filesystem driver at the sandbox root, every key under
// docker/registry/v2/.
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import { SubtreeDriver } from '../../storage/drivers/subtree.js';
import { filesystemDriverFactory, type DriverFactory } from '../helpers/drivers.js';
import { describeDriverContract } from './driver.contract.js';

const subtreeFactory: DriverFactory = {
  name: 'filesystem below docker/registry/v2',
  async create() {
    const backend = await filesystemDriverFactory.create();
    return { ...backend, driver: () => new SubtreeDriver(new FilesystemDriver(backend.root), 'docker/registry/v2') };
  },
};

describeDriverContract(subtreeFactory);
