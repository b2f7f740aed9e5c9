"""Replicas get their own copy of every item: no container of a replicated item is shared with the source
table's item (an in-place update in one Region must not show up in the other without a replicated write)."""

import copy
import unittest

from local_cloud.dynamodb_replicas import _wire


class ReplicaCopyTest(unittest.TestCase):
    def test_the_wire_form_shares_no_container_with_the_item(self):
        from moto.dynamodb.models.dynamo_type import Item

        attributes = {
            "pk": {"S": "USER#1"},
            "m": {"M": {"inner": {"M": {"x": {"S": "1"}}}, "list": {"L": [{"S": "a"}]}}},
            "l": {"L": [{"M": {"y": {"N": "2"}}}, {"SS": ["p", "q"]}]},
            "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2"]},
            "b": {"B": b"bytes"},
            "bs": {"BS": [b"x", b"y"]},
            "n": {"N": "7"},
            "bool": {"BOOL": True},
            "null": {"NULL": True},
        }
        item = Item(hash_key={"S": "USER#1"}, range_key=None, attrs=attributes)
        # A copy made apart from the code under test: were to_json to share the item's containers, a copy
        # taken through it would change along with them.
        before = copy.deepcopy(item.to_json()["Attributes"])
        wire = _wire(item)
        self.assertEqual(wire, before)
        for name, stored in item.attrs.items():
            if isinstance(stored.value, (list, dict)):
                self.assertIsNot(next(iter(wire[name].values())), stored.value, name)
        # Mutate every container of the copy; the item must not change.
        wire["m"]["M"]["inner"]["M"]["x"]["S"] = "changed"
        wire["m"]["M"]["list"]["L"].append({"S": "z"})
        wire["l"]["L"][0]["M"]["y"]["N"] = "9"
        wire["l"]["L"][1]["SS"].append("r")
        wire["ss"]["SS"].append("c")
        wire["ns"]["NS"].append("3")
        wire["bs"]["BS"].append("eg==")
        self.assertEqual(item.to_json()["Attributes"], before)


if __name__ == "__main__":
    unittest.main()
